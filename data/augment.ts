/**
 * Paired augmentation on float images, planar CHW (C = 3, values in [0, 1]):
 * random horizontal and vertical flips, a rotation by a multiple of 90 degrees, and colour
 * jitter with the semantics of torchvision's ColorJitter on float tensors. The parameters are
 * drawn once per sample (`drawAugmentParams`) and applied to each image of the pair, so the
 * teacher's and the student's views get the same geometric transform and the same jitter.
 *
 * Geometry, in this order (coordinates y down, x right, input H x W):
 *   flipH:  out(y, x) = in(y, W-1-x)
 *   flipV:  out(y, x) = in(H-1-y, x)
 *   rot90 k quarter turns counter-clockwise (numpy's rot90), the output of an odd k is W x H:
 *     k=1: out(y, x) = in(x, W-1-y)   k=2: out(y, x) = in(H-1-y, W-1-x)   k=3: out(y, x) = in(H-1-x, y)
 *
 * Colour jitter (torchvision ColorJitter.get_params / forward): factors brightness b, contrast
 * c, saturation s uniform in [max(0, 1-v), 1+v] for strength v, hue h uniform in [-v, v]; the
 * four are applied in a random order. With gray(p) = 0.2989 r + 0.587 g + 0.114 b:
 *   brightness: x <- clamp(b x, 0, 1)
 *   contrast:   x <- clamp(c x + (1-c) m, 0, 1),  m = mean over the image of gray
 *   saturation: x <- clamp(s x + (1-s) gray(p), 0, 1)
 *   hue:        RGB -> HSV (torchvision's _rgb2hsv), h <- (h + hue) mod 1, HSV -> RGB.
 * torchvision draws its factors with torch's generator; we draw them with our seeded Rng, in
 * the same order (permutation first, then b, c, s, h), so runs repeat but do not match
 * torchvision's random streams.
 */
import type { Rng } from '../engine/random.ts';
import { DataError } from './errors.ts';

export interface AugmentOptions {
  hflip?: boolean; // default true
  vflip?: boolean; // default true
  rotate90?: boolean; // default true
  brightness?: number; // default 0.5
  contrast?: number; // default 0.5
  saturation?: number; // default 0.5
  hue?: number; // default 0.2, at most 0.5
}

export const DEFAULT_AUGMENT: Required<AugmentOptions> = {
  hflip: true,
  vflip: true,
  rotate90: true,
  brightness: 0.5,
  contrast: 0.5,
  saturation: 0.5,
  hue: 0.2,
};

export type ColorOp = 'brightness' | 'contrast' | 'saturation' | 'hue';
const COLOR_OPS: ColorOp[] = ['brightness', 'contrast', 'saturation', 'hue'];

export interface AugmentParams {
  flipH: boolean;
  flipV: boolean;
  /** Quarter turns counter-clockwise, 0..3. */
  rot90: number;
  /** The order the colour operations run in (all four; a disabled one has a neutral factor). */
  order: ColorOp[];
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/** Parameters that change nothing (for evaluation, and as a base in tests). */
export const IDENTITY_AUGMENT: AugmentParams = {
  flipH: false,
  flipV: false,
  rot90: 0,
  order: [...COLOR_OPS],
  brightness: 1,
  contrast: 1,
  saturation: 1,
  hue: 0,
};

export function drawAugmentParams(rng: Rng, options: AugmentOptions = {}): AugmentParams {
  const o = { ...DEFAULT_AUGMENT, ...options };
  for (const k of ['brightness', 'contrast', 'saturation'] as const) {
    if (!(o[k] >= 0)) throw new DataError(`augment: ${k} must be >= 0, got ${o[k]}`);
  }
  if (!(o.hue >= 0 && o.hue <= 0.5)) throw new DataError(`augment: hue must be in [0, 0.5], got ${o.hue}`);
  const flipH = o.hflip && rng.next() < 0.5;
  const flipV = o.vflip && rng.next() < 0.5;
  const rot90 = o.rotate90 ? rng.int(4) : 0;
  const order = rng.shuffle([...COLOR_OPS]);
  const factor = (v: number) => (v > 0 ? rng.uniform(Math.max(0, 1 - v), 1 + v) : 1);
  const brightness = factor(o.brightness);
  const contrast = factor(o.contrast);
  const saturation = factor(o.saturation);
  const hue = o.hue > 0 ? rng.uniform(-o.hue, o.hue) : 0;
  return { flipH, flipV, rot90, order, brightness, contrast, saturation, hue };
}

/** Flip and rotate a CHW image; returns a new array and its height and width. */
export function applyGeometry(
  src: Float32Array,
  channels: number,
  height: number,
  width: number,
  p: AugmentParams,
): { data: Float32Array; height: number; width: number } {
  const turns = ((p.rot90 % 4) + 4) % 4;
  const outH = turns % 2 === 0 ? height : width;
  const outW = turns % 2 === 0 ? width : height;
  // (sy, sx): the pixel of the input that lands at output (y, x): undo the quarter turns,
  // then the flips. Every case is affine in (y, x), so its flat index is c0 + y*cy + x*cx.
  const sourceOf = (y: number, x: number): number => {
    let sy: number, sx: number;
    switch (turns) {
      case 0:
        sy = y;
        sx = x;
        break;
      case 1:
        sy = x;
        sx = width - 1 - y;
        break;
      case 2:
        sy = height - 1 - y;
        sx = width - 1 - x;
        break;
      default:
        sy = height - 1 - x;
        sx = y;
        break;
    }
    if (p.flipV) sy = height - 1 - sy;
    if (p.flipH) sx = width - 1 - sx;
    return sy * width + sx;
  };
  const c0 = sourceOf(0, 0);
  const cy = sourceOf(1, 0) - c0;
  const cx = sourceOf(0, 1) - c0;
  const out = new Float32Array(src.length);
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let y = 0; y < outH; y++) {
      const row = base + y * outW;
      let from = base + c0 + y * cy;
      for (let x = 0; x < outW; x++, from += cx) out[row + x] = src[from];
    }
  }
  return { data: out, height: outH, width: outW };
}

const GRAY = [0.2989, 0.587, 0.114];

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Colour jitter in place on a 3-channel CHW image with values in [0, 1]. */
export function applyColorJitter(img: Float32Array, height: number, width: number, p: AugmentParams): void {
  const n = height * width;
  if (img.length !== 3 * n)
    throw new DataError(`colour jitter needs a 3-channel CHW image of ${height}x${width} (${3 * n} values), got ${img.length} values`);
  const [wr, wg, wb] = GRAY;
  for (const op of p.order) {
    if (op === 'brightness' && p.brightness !== 1) {
      const k = p.brightness;
      for (let i = 0; i < img.length; i++) img[i] = clamp01(k * img[i]);
    } else if (op === 'contrast' && p.contrast !== 1) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += wr * img[i] + wg * img[n + i] + wb * img[2 * n + i];
      const k = p.contrast;
      const offset = (1 - k) * (sum / n);
      for (let i = 0; i < img.length; i++) img[i] = clamp01(k * img[i] + offset);
    } else if (op === 'saturation' && p.saturation !== 1) {
      const k = p.saturation;
      for (let i = 0; i < n; i++) {
        const r = img[i],
          g = img[n + i],
          b = img[2 * n + i];
        const gray = (1 - k) * (wr * r + wg * g + wb * b);
        img[i] = clamp01(k * r + gray);
        img[n + i] = clamp01(k * g + gray);
        img[2 * n + i] = clamp01(k * b + gray);
      }
    } else if (op === 'hue' && p.hue !== 0) {
      for (let i = 0; i < n; i++) shiftHue(img, i, n, p.hue);
    }
  }
}

/** torchvision's _rgb2hsv, hue shift, _hsv2rgb, for the pixel at plane offset i. */
function shiftHue(img: Float32Array, i: number, n: number, shift: number): void {
  const r = img[i],
    g = img[n + i],
    b = img[2 * n + i];
  const maxc = r > g ? (r > b ? r : b) : g > b ? g : b;
  const minc = r < g ? (r < b ? r : b) : g < b ? g : b;
  const range = maxc - minc;
  const grey = maxc === minc;
  const s = range / (grey ? 1 : maxc);
  const divisor = grey ? 1 : range;
  const rc = (maxc - r) / divisor,
    gc = (maxc - g) / divisor,
    bc = (maxc - b) / divisor;
  // Sector by which channel is the maximum (r first, then g, then b), as torchvision masks it.
  const h6 = maxc === r ? bc - gc : maxc === g ? 2 + rc - bc : 4 + gc - rc;
  // (h6 / 6 + 1) mod 1, then (h + shift) mod 1; both in [0, 1) after taking the fraction.
  let h = h6 / 6 + 1;
  h -= Math.floor(h);
  h += shift;
  h -= Math.floor(h);
  const v = maxc;
  const sector = Math.floor(h * 6);
  const f = h * 6 - sector;
  const pp = clamp01(v * (1 - s));
  const q = clamp01(v * (1 - s * f));
  const t = clamp01(v * (1 - s * (1 - f)));
  let ro: number, go: number, bo: number;
  // h * 6 can round up to 6 for h just below 1: torchvision takes the sector mod 6 (f stays ~0).
  switch (sector % 6) {
    case 0:
      ro = v;
      go = t;
      bo = pp;
      break;
    case 1:
      ro = q;
      go = v;
      bo = pp;
      break;
    case 2:
      ro = pp;
      go = v;
      bo = t;
      break;
    case 3:
      ro = pp;
      go = q;
      bo = v;
      break;
    case 4:
      ro = t;
      go = pp;
      bo = v;
      break;
    default:
      ro = v;
      go = pp;
      bo = q;
      break;
  }
  img[i] = ro;
  img[n + i] = go;
  img[2 * n + i] = bo;
}
