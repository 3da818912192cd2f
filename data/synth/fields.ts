/**
 * Scalar fields over a tile, as Float32Array(width * height), row-major: the building blocks
 * the renderer composes (smooth noise, cellular distances, blur). No allocation per pixel.
 */
import { Rng } from '../../engine/random.ts';

/**
 * Smooth value noise in [-1, 1]: uniform values on a lattice of spacing `cell` pixels,
 * interpolated with smoothstep weights. Features are about `cell` pixels across.
 */
export function valueNoise(rng: Rng, width: number, height: number, cell: number): Float32Array {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const lattice = new Float32Array(gw * gh);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.uniform(-1, 1);
  const out = new Float32Array(width * height);
  // Column weights are the same for every row: compute them once.
  const ix = new Int32Array(width);
  const wx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const gx = x / cell;
    ix[x] = Math.floor(gx);
    const f = gx - ix[x];
    wx[x] = f * f * (3 - 2 * f);
  }
  for (let y = 0; y < height; y++) {
    const gy = y / cell;
    const iy = Math.floor(gy);
    let f = gy - iy;
    const wy = f * f * (3 - 2 * f);
    const r0 = iy * gw,
      r1 = (iy + 1) * gw;
    for (let x = 0; x < width; x++) {
      const i = ix[x],
        w = wx[x];
      const top = lattice[r0 + i] + w * (lattice[r0 + i + 1] - lattice[r0 + i]);
      const bottom = lattice[r1 + i] + w * (lattice[r1 + i + 1] - lattice[r1 + i]);
      out[y * width + x] = top + wy * (bottom - top);
    }
  }
  return out;
}

/**
 * Standard normal deviates, drawn once from a fixed seed. Per-pixel noise reads this table
 * from a random start with a random odd stride, which is several times faster than drawing
 * fresh normals per pixel and, for sensor and chromatin noise, just as good.
 */
const NORMAL_TABLE_SIZE = 1 << 16;
const NORMAL_TABLE = (() => {
  const rng = new Rng(0x5eed);
  const t = new Float32Array(NORMAL_TABLE_SIZE);
  for (let i = 0; i < t.length; i++) t[i] = rng.normal();
  return t;
})();

/** A stream of standard normal values for one tile: `next()` walks the shared table. */
export class NormalStream {
  private index: number;
  private readonly stride: number;
  constructor(rng: Rng) {
    this.index = rng.int(NORMAL_TABLE_SIZE);
    this.stride = 2 * rng.int(NORMAL_TABLE_SIZE / 2) + 1;
  }
  next(): number {
    this.index = (this.index + this.stride) & (NORMAL_TABLE_SIZE - 1);
    return NORMAL_TABLE[this.index];
  }
}

/** Per-pixel normal noise (mean 0, std 1). */
export function whiteNoise(rng: Rng, width: number, height: number): Float32Array {
  const normals = new NormalStream(rng);
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = normals.next();
  return out;
}

/**
 * Cellular (Worley) distances: sites jittered on a square grid of spacing `spacing` pixels
 * (one per cell); for each pixel, after displacing it by (warpX, warpY) and stretching its y
 * coordinate by `stretchY` (< 1 elongates the cells vertically), the distance to the nearest
 * site `d1`, to the second nearest `d2`, and the nearest site's index `site`. Each site also
 * gets a uniform random `siteValue` in [0, 1) for per-structure variation. Sites are searched
 * in the 3x3 neighbouring cells, exact for d1 and a close approximation for d2.
 */
export interface Cells {
  d1: Float32Array;
  d2: Float32Array;
  site: Int32Array;
  siteValue: Float32Array;
}

export function cells(rng: Rng, width: number, height: number, spacing: number, warpX: Float32Array, warpY: Float32Array): Cells {
  // Grid cells cover the warped, stretched tile with a margin of two cells on every side.
  const margin = 2;
  const gw = Math.ceil(width / spacing) + 2 * margin + 1;
  const gh = Math.ceil(height / spacing) + 2 * margin + 1;
  const sx = new Float32Array(gw * gh);
  const sy = new Float32Array(gw * gh);
  const siteValue = new Float32Array(gw * gh);
  for (let j = 0; j < gh; j++) {
    for (let i = 0; i < gw; i++) {
      const k = j * gw + i;
      sx[k] = (i - margin + rng.next()) * spacing;
      sy[k] = (j - margin + rng.next()) * spacing;
      siteValue[k] = rng.next();
    }
  }
  const n = width * height;
  const d1 = new Float32Array(n);
  const d2 = new Float32Array(n);
  const site = new Int32Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const px = x + warpX[p];
      const py = y + warpY[p];
      const ci = Math.min(gw - 2, Math.max(1, Math.floor(px / spacing) + margin));
      const cj = Math.min(gh - 2, Math.max(1, Math.floor(py / spacing) + margin));
      let best = Infinity,
        second = Infinity,
        bestK = 0;
      for (let j = cj - 1; j <= cj + 1; j++) {
        for (let i = ci - 1; i <= ci + 1; i++) {
          const k = j * gw + i;
          const dx = px - sx[k],
            dy = py - sy[k];
          const d = dx * dx + dy * dy;
          if (d < best) {
            second = best;
            best = d;
            bestK = k;
          } else if (d < second) {
            second = d;
          }
        }
      }
      d1[p] = Math.sqrt(best);
      d2[p] = Math.sqrt(second);
      site[p] = bestK;
    }
  }
  return { d1, d2, site, siteValue };
}

/**
 * Distance to the nearest finger (villus): fingers are vertical segments of length `length`
 * pixels, centred on x positions jittered around a lattice of spacing `spacing`, each starting
 * at a random height; beyond its ends a finger is rounded (distance to the end point). Pixels
 * are displaced by (warpX, warpY) first so fingers wave.
 */
export function fingers(
  rng: Rng,
  width: number,
  height: number,
  spacing: number,
  length: number,
  warpX: Float32Array,
  warpY: Float32Array,
): Float32Array {
  const margin = 2;
  const count = Math.ceil(width / spacing) + 2 * margin + 1;
  const centre = new Float32Array(count);
  const top = new Float32Array(count);
  for (let k = 0; k < count; k++) {
    centre[k] = (k - margin + 0.5 + 0.6 * (rng.next() - 0.5)) * spacing;
    top[k] = rng.uniform(-length, height);
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const px = x + warpX[p],
        py = y + warpY[p];
      const k0 = Math.min(count - 2, Math.max(1, Math.floor(px / spacing) + margin));
      let best = Infinity;
      for (let k = k0 - 1; k <= k0 + 1; k++) {
        const dx = px - centre[k];
        const dy = py < top[k] ? top[k] - py : py > top[k] + length ? py - top[k] - length : 0;
        const d = dx * dx + dy * dy;
        if (d < best) best = d;
      }
      out[p] = Math.sqrt(best);
    }
  }
  return out;
}

/** Separable Gaussian blur in place (edges clamped). sigma in pixels; <= 0.05 leaves the field as is. */
export function gaussianBlur(field: Float32Array, width: number, height: number, sigma: number, scratch: Float32Array): void {
  if (sigma <= 0.05) return;
  // Taps out to 2.5 sigma hold 98.8% of the weight (renormalized below); wider costs more than it shows.
  const radius = Math.max(1, Math.ceil(2.5 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let total = 0;
  for (let i = -radius; i <= radius; i++) {
    kernel[i + radius] = Math.exp((-i * i) / (2 * sigma * sigma));
    total += kernel[i + radius];
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] /= total;
  blurRows(field, scratch, width, height, kernel);
  blurColumns(scratch, field, width, height, kernel);
}

/** Horizontal pass: each row of `src` convolved with `kernel` into `dst`, edges clamped. */
function blurRows(src: Float32Array, dst: Float32Array, width: number, height: number, kernel: Float32Array): void {
  const radius = (kernel.length - 1) / 2;
  const taps = kernel.length;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let s = 0;
      if (x >= radius && x < width - radius) {
        // Interior: every tap is inside the row.
        const from = row + x - radius;
        for (let k = 0; k < taps; k++) s += kernel[k] * src[from + k];
      } else {
        for (let k = -radius; k <= radius; k++) {
          const xx = x + k < 0 ? 0 : x + k >= width ? width - 1 : x + k;
          s += kernel[k + radius] * src[row + xx];
        }
      }
      dst[row + x] = s;
    }
  }
}

/**
 * Vertical pass, edges clamped. Loops run over whole rows (y, tap, x) so memory is read
 * contiguously rather than down columns; sums build up in a float64 row.
 */
function blurColumns(src: Float32Array, dst: Float32Array, width: number, height: number, kernel: Float32Array): void {
  const radius = (kernel.length - 1) / 2;
  const acc = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (let k = -radius; k <= radius; k++) {
      const yy = y + k < 0 ? 0 : y + k >= height ? height - 1 : y + k;
      const from = yy * width;
      const w = kernel[k + radius];
      for (let x = 0; x < width; x++) acc[x] += w * src[from + x];
    }
    dst.set(acc, y * width);
  }
}
