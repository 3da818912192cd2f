/**
 * Renders one synthetic H&E tile at the top magnification.
 *
 * 1. Architecture: cellular distances (fields.ts `cells`), domain-warped so shapes look
 *    organic, give each pixel a tissue: air/lumen, stroma or epithelium (`tissueOf`).
 * 2. Nuclei: ellipses with irregular outlines and chromatin texture, dropped as a Boolean
 *    model (uniform random centres) into the epithelium and, as spindles, into the stroma.
 *    Their count is set from their area so that they cover NUCLEAR_COVER of the epithelium
 *    whatever their size: nuclear detail changes texture, not mean colour. Intraepithelial
 *    lymphocytes (small round dense nuclei) take the class's share of that cover.
 * 3. Stain: per-pixel hematoxylin (H) and eosin (E) amounts, blurred (optics), turned into RGB
 *    with Beer-Lambert, I = I0 * 10^-(H * h + E * e) per channel, with the slide's stain
 *    vectors h, e (Ruifrok and Johnston's H&E vectors, perturbed per slide), plus sensor noise.
 *
 * Knobs (RenderKnobs) set how much each scale carries: `architectureFidelity` is the chance a
 * tile shows its own class's architecture (otherwise the architecture of a random class of
 * the set); `nuclearStrength` moves the nuclear phenotype from the mean of all classes (0) to
 * the class's own (1); `variation` scales every per-tile random spread.
 */
import { Rng } from '../../engine/random.ts';
import type { RgbImage } from '../image.ts';
import { cells, fingers, gaussianBlur, NormalStream, valueNoise, whiteNoise } from './fields.ts';
import type { ArchitectureParams, ClassSpec, NuclearParams } from './classes.ts';

export interface RenderKnobs {
  architectureFidelity: number;
  nuclearStrength: number;
  variation: number;
}

export const DEFAULT_KNOBS: RenderKnobs = { architectureFidelity: 0.6, nuclearStrength: 1, variation: 1 };

/** A slide's staining and imaging: the same for every tile cut from it. */
export interface SlideStain {
  hematoxylin: [number, number, number];
  eosin: [number, number, number];
  hScale: number;
  eScale: number;
  /** Per-channel source brightness (1 = 255). */
  illumination: [number, number, number];
  /** Optical blur, Gaussian sigma in microns. */
  blurMicrons: number;
  /** Sensor noise, standard deviation in grey levels. */
  noise: number;
}

/** Fraction of the epithelium covered by nuclei, the same for every class. */
const NUCLEAR_COVER = 0.38;
/** Fraction of the stroma covered by spindle (fibroblast) nuclei. */
const STROMA_NUCLEAR_COVER = 0.06;
const STROMA_NUCLEI: NuclearParams = { radius: 1.8, aspect: 3.5, atypia: 0, chromatin: 0.1, lymphocytes: 0 };
/** An intraepithelial lymphocyte's nucleus: small, round, smooth, evenly dense chromatin (about 5 um across). */
const LYMPHOCYTE: NuclearParams = { radius: 2.4, aspect: 1.05, atypia: 0, chromatin: 0.05, lymphocytes: 0 };

/** Stain amounts per tissue (before nuclei): [H, E]. */
const AIR = 0,
  STROMA = 1,
  EPITHELIUM = 2;
const BASE_H = [0.01, 0.05, 0.1];
const BASE_E = [0.03, 0.55, 0.32];
/** Relative amplitude of the fibre-scale texture of E per tissue: stroma is fibrous. */
const FIBRE_TEXTURE = [0.02, 0.3, 0.1];
/** H of nuclear chromatin at full cover. */
const NUCLEUS_H = 0.85;

const RUIFROK_H: [number, number, number] = [0.65, 0.7, 0.29];
const RUIFROK_E: [number, number, number] = [0.07, 0.99, 0.11];

function unit(v: [number, number, number]): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / n, v[1] / n, v[2] / n];
}

/** Draw a slide's staining: stain vectors rotated a little, stain amounts and blur varied. */
export function drawSlideStain(rng: Rng): SlideStain {
  const perturb = (v: [number, number, number]): [number, number, number] =>
    unit([v[0] * Math.exp(rng.normal(0, 0.1)), v[1] * Math.exp(rng.normal(0, 0.1)), v[2] * Math.exp(rng.normal(0, 0.1))]);
  return {
    hematoxylin: perturb(RUIFROK_H),
    eosin: perturb(RUIFROK_E),
    hScale: 1.3 * Math.exp(rng.normal(0, 0.15)),
    eScale: Math.exp(rng.normal(0, 0.15)),
    illumination: [1 - rng.uniform(0, 0.08), 1 - rng.uniform(0, 0.08), 1 - rng.uniform(0, 0.08)],
    blurMicrons: rng.uniform(0.35, 0.9),
    noise: rng.uniform(1, 3),
  };
}

export interface TileRequest {
  width: number;
  height: number;
  micronsPerPixel: number;
  classes: ClassSpec[];
  classIndex: number;
  knobs: RenderKnobs;
  stain: SlideStain;
  /** Seed of this tile alone (derived from the run's seed, split and index). */
  seed: number;
}

/** Render one tile; the result depends only on the request. */
export function renderTile(req: TileRequest): RgbImage {
  const { width, height, micronsPerPixel: mpp, knobs } = req;
  const rng = new Rng(req.seed);
  const spread = knobs.variation;
  const own = req.classes[req.classIndex];
  const shown = rng.next() < knobs.architectureFidelity ? own : req.classes[rng.int(req.classes.length)];
  const architecture = jitterArchitecture(shown.architecture, rng, spread);
  const nuclei = jitterNuclei(blendNuclei(req.classes, own.nuclei, knobs.nuclearStrength), rng, spread);

  const tissue = layOutTissue(architecture, width, height, mpp, rng);
  const n = width * height;
  const cover = new Float32Array(n);
  const nucleusH = new Float32Array(n);
  const chromatin = whiteNoise(rng, width, height);
  // Smooth noise on the scale of a nucleus wobbles each outline (atypia).
  const wobble = valueNoise(rng, width, height, Math.max(1, (0.8 * nuclei.radius) / mpp));
  const field = { tissue, width, height, mpp, chromatin, wobble, cover, nucleusH };
  // Two independent Boolean models cover 1 - (1 - c1)(1 - c2): lymphocytes take their share
  // of NUCLEAR_COVER, the epithelial nuclei the rest, so the total is the same for every class.
  const lymphocyteCover = Math.min(0.9, nuclei.lymphocytes) * NUCLEAR_COVER;
  dropNuclei(nuclei, 1 - (1 - NUCLEAR_COVER) / (1 - lymphocyteCover), EPITHELIUM, field, rng);
  if (lymphocyteCover > 0) dropNuclei(LYMPHOCYTE, lymphocyteCover, EPITHELIUM, field, rng);
  dropNuclei(STROMA_NUCLEI, STROMA_NUCLEAR_COVER, STROMA, field, rng);

  // Stain amounts: tissue base, modulated by a fibre-scale texture, plus nuclei.
  const fibre = valueNoise(rng, width, height, Math.max(1, 5 / mpp));
  const h = new Float32Array(n);
  const e = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    const t = tissue[p];
    h[p] = BASE_H[t] + nucleusH[p];
    e[p] = BASE_E[t] * (1 + FIBRE_TEXTURE[t] * fibre[p]) * (1 - 0.5 * cover[p]);
  }
  const scratch = new Float32Array(n);
  const sigma = req.stain.blurMicrons / mpp;
  gaussianBlur(h, width, height, sigma, scratch);
  gaussianBlur(e, width, height, sigma, scratch);
  return toRgb(h, e, width, height, req.stain, rng);
}

function jitterArchitecture(a: ArchitectureParams, rng: Rng, spread: number): ArchitectureParams {
  const f = () => Math.exp(rng.normal(0, 0.15 * spread));
  return { pattern: a.pattern, spacing: a.spacing * f(), size: a.size * f(), lining: a.lining * f(), length: a.length * f() };
}

/** The class's nuclear phenotype moved toward the mean of all classes by (1 - strength). */
function blendNuclei(classes: ClassSpec[], own: NuclearParams, strength: number): NuclearParams {
  const mean = (key: keyof NuclearParams) => classes.reduce((s, c) => s + c.nuclei[key], 0) / classes.length;
  const mix = (key: keyof NuclearParams) => mean(key) + strength * (own[key] - mean(key));
  return {
    radius: mix('radius'),
    aspect: mix('aspect'),
    atypia: mix('atypia'),
    chromatin: mix('chromatin'),
    lymphocytes: mix('lymphocytes'),
  };
}

function jitterNuclei(p: NuclearParams, rng: Rng, spread: number): NuclearParams {
  return {
    radius: p.radius * Math.exp(rng.normal(0, 0.1 * spread)),
    aspect: 1 + (p.aspect - 1) * Math.exp(rng.normal(0, 0.25 * spread)),
    atypia: Math.max(0, p.atypia + rng.normal(0, 0.06 * spread)),
    chromatin: Math.max(0, p.chromatin + rng.normal(0, 0.12 * spread)),
    lymphocytes: Math.min(0.9, p.lymphocytes * Math.exp(rng.normal(0, 0.2 * spread))),
  };
}

/** Tissue label per pixel (AIR, STROMA, EPITHELIUM) from the architecture's rule. */
function layOutTissue(a: ArchitectureParams, width: number, height: number, mpp: number, rng: Rng): Uint8Array {
  // Domain warp: smooth displacement of about 8 microns over about 40 microns.
  const warpCell = Math.max(2, 40 / mpp);
  const warpAmp = 8 / mpp;
  const warpX = valueNoise(rng, width, height, warpCell);
  const warpY = valueNoise(rng, width, height, warpCell);
  for (let p = 0; p < warpX.length; p++) {
    warpX[p] *= warpAmp;
    warpY[p] *= warpAmp;
  }
  const size = a.size / mpp;
  const lining = a.lining / mpp;
  const tissue = new Uint8Array(width * height);
  if (a.pattern === 'villi') {
    // Fingers with a stroma core, lined by epithelium, air between them.
    const d = fingers(rng, width, height, a.spacing / mpp, a.length / mpp, warpX, warpY);
    for (let p = 0; p < tissue.length; p++) tissue[p] = d[p] < size ? STROMA : d[p] < size + lining ? EPITHELIUM : AIR;
    return tissue;
  }
  const c = cells(rng, width, height, a.spacing / mpp, warpX, warpY);
  for (let p = 0; p < tissue.length; p++) {
    const d1 = c.d1[p];
    // Half the gap between the two nearest sites: the distance to the cell wall between them.
    const toWall = (c.d2[p] - d1) / 2;
    const v = c.siteValue[c.site[p]];
    let t: number;
    switch (a.pattern) {
      case 'glands':
      case 'crypts': {
        // A lumen (most sites) ringed by epithelium, in stroma.
        const lumen = size * (0.7 + 0.6 * v);
        t = v < 0.12 ? STROMA : d1 < lumen ? AIR : d1 < lumen + lining ? EPITHELIUM : STROMA;
        break;
      }
      case 'walls':
      case 'fronds':
        // A stroma core along cell walls, lined by epithelium, air inside the cells.
        t = toWall < size ? STROMA : toWall < size + lining ? EPITHELIUM : AIR;
        break;
      case 'tufts':
        // Small balls of epithelium floating in air.
        t = v > 0.25 && d1 < size * (0.7 + 0.6 * v) ? EPITHELIUM : AIR;
        break;
      case 'sheet':
        // Epithelium everywhere but thin stroma septa and a few small lumens.
        t = toWall < size ? STROMA : v > 0.8 && d1 < 4 / mpp ? AIR : EPITHELIUM;
        break;
    }
    tissue[p] = t;
  }
  return tissue;
}

/** The per-pixel fields nuclei are drawn into (all width * height, row-major). */
interface NucleusCanvas {
  tissue: Uint8Array;
  width: number;
  height: number;
  mpp: number;
  /** Zero-mean noise: chromatin texture. */
  chromatin: Float32Array;
  /** Smooth noise in [-1, 1]: outline irregularity. */
  wobble: Float32Array;
  /** Out: how much of each pixel nuclei cover, and their hematoxylin. */
  cover: Float32Array;
  nucleusH: Float32Array;
}

/**
 * Drop nuclei with phenotype `p` as a Boolean model: centres uniform over the tile (plus a
 * margin so edges are not short of nuclei), kept where the centre lies in tissue `where`.
 * With intensity lambda = -ln(1 - cover) / (pi r^2), the covered fraction of that tissue is
 * `cover` whatever r. Each nucleus writes max(cover) and max(H) so overlaps do not add up.
 */
function dropNuclei(p: NuclearParams, coverTarget: number, where: number, f: NucleusCanvas, rng: Rng): void {
  const { width, height } = f;
  const r = p.radius / f.mpp;
  const a = r * Math.sqrt(p.aspect); // long semi-axis, pixels
  const b = r / Math.sqrt(p.aspect); // short semi-axis
  const margin = 2 * a;
  const area = (width + 2 * margin) * (height + 2 * margin);
  const count = Math.round((-Math.log(1 - coverTarget) / (Math.PI * r * r)) * area);
  const reach = a * (1 + p.atypia) + 1;
  for (let k = 0; k < count; k++) {
    const cx = rng.uniform(-margin, width + margin);
    const cy = rng.uniform(-margin, height + margin);
    const angle = rng.uniform(0, Math.PI);
    const darkness = NUCLEUS_H * Math.exp(rng.normal(0, 0.1));
    const tx = Math.min(width - 1, Math.max(0, Math.floor(cx)));
    const ty = Math.min(height - 1, Math.max(0, Math.floor(cy)));
    if (f.tissue[ty * width + tx] !== where) continue;
    const cos = Math.cos(angle),
      sin = Math.sin(angle);
    const x0 = Math.max(0, Math.floor(cx - reach)),
      x1 = Math.min(width - 1, Math.ceil(cx + reach));
    const y0 = Math.max(0, Math.floor(cy - reach)),
      y1 = Math.min(height - 1, Math.ceil(cy + reach));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx,
          dy = y + 0.5 - cy;
        // Coordinates along the nucleus's axes, scaled so the ellipse is the unit circle.
        const u = (dx * cos + dy * sin) / a;
        const v = (-dx * sin + dy * cos) / b;
        const q = Math.sqrt(u * u + v * v);
        const i = y * width + x;
        // The outline's radius wobbles with the smooth noise (atypia); the edge is soft over
        // about one pixel (b pixels per unit of q along the short axis).
        const edge = 1 + p.atypia * f.wobble[i];
        const c = Math.min(1, Math.max(0, (edge - q) * b + 0.5));
        if (c <= 0) continue;
        const value = c * darkness * Math.max(0.1, 1 + p.chromatin * 0.6 * f.chromatin[i]);
        if (c > f.cover[i]) f.cover[i] = c;
        if (value > f.nucleusH[i]) f.nucleusH[i] = value;
      }
    }
  }
}

/**
 * exp(-x) for x in [0, EXP_RANGE], tabulated every 1/EXP_STEPS and read with linear
 * interpolation: relative error below (1/EXP_STEPS)^2 / 8 ~ 2e-6, far under one grey level,
 * and several times faster than Math.exp per channel per pixel.
 */
const EXP_RANGE = 16;
const EXP_STEPS = 256;
const EXP_TABLE = (() => {
  const t = new Float64Array(EXP_RANGE * EXP_STEPS + 2);
  for (let i = 0; i < t.length; i++) t[i] = Math.exp(-i / EXP_STEPS);
  return t;
})();

function expNeg(x: number): number {
  if (x >= EXP_RANGE) return 0;
  const f = x * EXP_STEPS;
  const i = Math.floor(f);
  return EXP_TABLE[i] + (f - i) * (EXP_TABLE[i + 1] - EXP_TABLE[i]);
}

/** Beer-Lambert: stain amounts to 8-bit RGB, with Gaussian sensor noise. */
function toRgb(h: Float32Array, e: Float32Array, width: number, height: number, s: SlideStain, rng: Rng): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const normals = new NormalStream(rng);
  // Optical density is in decades (I = I0 * 10^-od): fold ln 10 and the stain scales into the vectors.
  const hv = s.hematoxylin.map((v) => v * s.hScale * Math.LN10);
  const ev = s.eosin.map((v) => v * s.eScale * Math.LN10);
  const i0 = s.illumination.map((v) => 255 * v);
  for (let p = 0; p < h.length; p++) {
    const hp = h[p] > 0 ? h[p] : 0,
      ep = e[p] > 0 ? e[p] : 0;
    for (let ch = 0; ch < 3; ch++) {
      const value = i0[ch] * expNeg(hp * hv[ch] + ep * ev[ch]) + s.noise * normals.next();
      data[p * 3 + ch] = value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
    }
  }
  return { data, width, height };
}
