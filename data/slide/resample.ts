/**
 * Area resampling of an RGB region by any factor >= 1 from any (fractional) origin: output
 * pixel (ox, oy) is the mean of the source over the square
 *   [x0 + ox * f, x0 + (ox + 1) * f) x [y0 + oy * f, y0 + (oy + 1) * f)
 * with each source pixel weighted by the part of it the square covers (the exact area average
 * of the source taken as piecewise constant), rounded to the nearest grey level.
 *
 * With a whole factor and a whole origin this is the block mean of data/image.ts
 * `areaDownsample` (same integer sums, same rounding: halves up), computed the same way; a
 * pyramid level whose downsample is not whole (a scanner's 4.0003) takes the weighted path.
 */
import type { RgbImage } from '../image.ts';
import { DataError } from '../errors.ts';

/** Source pixels and their weights for each output coordinate along one axis. */
interface AxisWeights {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  stride: number;
}

function axisWeights(origin: number, factor: number, out: number, srcSize: number): AxisWeights {
  const stride = Math.ceil(factor) + 2;
  const start = new Int32Array(out),
    count = new Int32Array(out),
    weights = new Float64Array(out * stride);
  for (let o = 0; o < out; o++) {
    const a = origin + o * factor,
      b = a + factor;
    const first = Math.floor(a),
      last = Math.min(Math.ceil(b), srcSize) - 1;
    if (first < 0 || Math.ceil(b) > srcSize + 1e-9)
      throw new DataError(`areaResample: output ${o} needs source [${a}, ${b}) outside 0..${srcSize}`);
    start[o] = first;
    count[o] = last - first + 1;
    for (let s = first; s <= last; s++) weights[o * stride + s - first] = Math.min(b, s + 1) - Math.max(a, s);
  }
  return { start, count, weights, stride };
}

export function areaResample(src: RgbImage, x0: number, y0: number, factor: number, outWidth: number, outHeight: number): RgbImage {
  if (!(factor >= 1)) throw new DataError(`areaResample: factor must be >= 1 (no upsampling), got ${factor}`);
  const whole = Number.isInteger(factor) && Number.isInteger(x0) && Number.isInteger(y0);
  return whole ? blockMean(src, x0, y0, factor, outWidth, outHeight) : weightedMean(src, x0, y0, factor, outWidth, outHeight);
}

function blockMean(src: RgbImage, x0: number, y0: number, f: number, outWidth: number, outHeight: number): RgbImage {
  if (x0 + outWidth * f > src.width || y0 + outHeight * f > src.height || x0 < 0 || y0 < 0) {
    throw new DataError(
      `areaResample: ${outWidth}x${outHeight} blocks of ${f} from (${x0}, ${y0}) leave the ${src.width}x${src.height} source`,
    );
  }
  const out = new Uint8Array(outWidth * outHeight * 3);
  if (f === 1) {
    // A crop: row copies.
    for (let y = 0; y < outHeight; y++)
      out.set(src.data.subarray(((y0 + y) * src.width + x0) * 3, ((y0 + y) * src.width + x0 + outWidth) * 3), y * outWidth * 3);
    return { data: out, width: outWidth, height: outHeight };
  }
  const sums = new Uint32Array(outWidth * 3);
  const area = f * f,
    half = area >> 1;
  const s = src.data;
  for (let oy = 0; oy < outHeight; oy++) {
    sums.fill(0);
    for (let dy = 0; dy < f; dy++) {
      const row = ((y0 + oy * f + dy) * src.width + x0) * 3;
      for (let ox = 0; ox < outWidth; ox++) {
        let p = row + ox * f * 3;
        let r = 0,
          g = 0,
          b = 0;
        for (let dx = 0; dx < f; dx++, p += 3) {
          r += s[p];
          g += s[p + 1];
          b += s[p + 2];
        }
        sums[ox * 3] += r;
        sums[ox * 3 + 1] += g;
        sums[ox * 3 + 2] += b;
      }
    }
    const o = oy * outWidth * 3;
    for (let i = 0; i < outWidth * 3; i++) out[o + i] = Math.floor((sums[i] + half) / area);
  }
  return { data: out, width: outWidth, height: outHeight };
}

function weightedMean(src: RgbImage, x0: number, y0: number, f: number, outWidth: number, outHeight: number): RgbImage {
  const wx = axisWeights(x0, f, outWidth, src.width);
  const wy = axisWeights(y0, f, outHeight, src.height);
  // Horizontal pass into float rows, then vertical: separable, as the weights are.
  const rows = wy.start[outHeight - 1] + wy.count[outHeight - 1] - wy.start[0];
  const firstRow = wy.start[0];
  const horiz = new Float64Array(rows * outWidth * 3);
  const s = src.data;
  for (let r = 0; r < rows; r++) {
    const srcRow = (firstRow + r) * src.width * 3;
    for (let ox = 0; ox < outWidth; ox++) {
      let a = 0,
        b = 0,
        c = 0;
      const base = ox * wx.stride;
      for (let k = 0; k < wx.count[ox]; k++) {
        const w = wx.weights[base + k];
        const p = srcRow + (wx.start[ox] + k) * 3;
        a += w * s[p];
        b += w * s[p + 1];
        c += w * s[p + 2];
      }
      const q = (r * outWidth + ox) * 3;
      horiz[q] = a;
      horiz[q + 1] = b;
      horiz[q + 2] = c;
    }
  }
  const out = new Uint8Array(outWidth * outHeight * 3);
  const area = f * f;
  for (let oy = 0; oy < outHeight; oy++) {
    const base = oy * wy.stride;
    for (let i = 0; i < outWidth * 3; i++) {
      let acc = 0;
      for (let k = 0; k < wy.count[oy]; k++) acc += wy.weights[base + k] * horiz[(wy.start[oy] + k - firstRow) * outWidth * 3 + i];
      const v = Math.floor(acc / area + 0.5);
      out[oy * outWidth * 3 + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { data: out, width: outWidth, height: outHeight };
}

/**
 * An RGB image seen inside a larger buffer: row y starts at element `offset + y * stride` of
 * `data` (stride >= 3 * width). A tile cut at factor 1 from a decoded window is such a view of
 * the window, so it needs no copy.
 */
export interface RgbView {
  data: Uint8Array;
  width: number;
  height: number;
  stride: number;
  offset: number;
}

/** A view of the width x height rectangle at (x, y) of `img`, sharing its pixels; the rectangle must lie inside. */
export function viewOf(img: RgbImage, x: number, y: number, width: number, height: number): RgbView {
  if (!(Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x + width <= img.width && y + height <= img.height))
    throw new DataError(
      `viewOf: ${width}x${height} at (${x}, ${y}) is not a whole-pixel rectangle inside the ${img.width}x${img.height} image`,
    );
  return { data: img.data, width, height, stride: img.width * 3, offset: (y * img.width + x) * 3 };
}

/** An image or a view as a view (a whole image is a view of itself). */
export function asView(img: RgbImage | RgbView): RgbView {
  return 'stride' in img ? img : { data: img.data, width: img.width, height: img.height, stride: img.width * 3, offset: 0 };
}

/**
 * Every lower magnification of a tile in one go: for each whole factor f, the f x f block means
 * of `top` (exactly data/image.ts `areaDownsample(top, f)`: same integer sums, rounded halves
 * up, partial blocks at the edge dropped). The sums of a factor are built from the sums of the
 * largest smaller factor that divides it (4 from 2, 8 from 4), so the top image is read once
 * for the usual halving pyramid; sums are exact integers, so no rounding compounds. Returns the
 * images in the order of `factors` (factor 1 is `top` itself, an image or a view of a larger
 * one; the others are new images).
 */
export function areaPyramid<T extends RgbImage | RgbView>(top: T, factors: number[]): (T | RgbImage)[] {
  for (const f of factors)
    if (!Number.isInteger(f) || f < 1) throw new DataError(`areaPyramid: factors must be whole numbers >= 1, got ${factors.join(', ')}`);
  const topStride = 'stride' in top ? top.stride : top.width * 3;
  const topOffset = 'offset' in top ? top.offset : 0;
  const levels: { factor: number; sums: Uint8Array | Uint32Array; width: number; height: number; stride: number; offset: number }[] = [
    { factor: 1, sums: top.data, width: top.width, height: top.height, stride: topStride, offset: topOffset },
  ];
  const images = new Map<number, T | RgbImage>([[1, top]]);
  const sorted = [...new Set(factors)].sort((a, b) => a - b).filter((f) => f !== 1);
  sorted.forEach((f, index) => {
    const base = levels.filter((l) => f % l.factor === 0).reduce((a, b) => (b.factor > a.factor ? b : a));
    const k = f / base.factor;
    const width = Math.floor(base.width / k),
      height = Math.floor(base.height / k);
    if (width === 0 || height === 0)
      throw new DataError(
        `areaPyramid: a ${top.width}x${top.height} image is smaller than one ${f}x${f} block; use a larger tile or fewer magnifications`,
      );
    // Sums live in scratch reused across calls (one per step): only the rounded images are new.
    const sums = scratchSums(index, width * height * 3);
    const data = new Uint8Array(sums.length);
    const area = f * f,
      half = area >> 1;
    const shift = Math.log2(area);
    // The halving pyramid (k = 2, power-of-two area) rounds by a shift as it sums; other steps in a second pass, by division.
    if (k === 2 && Number.isInteger(shift)) {
      if (base.sums instanceof Uint8Array) blockSums2Bytes(base.sums, base.stride, base.offset, width, height, sums, data, shift);
      else blockSums2(base.sums, base.stride, width, height, sums, data, shift);
    } else {
      blockSums(base.sums, base.stride, base.offset, k, width, height, sums);
      for (let i = 0; i < sums.length; i++) data[i] = ((sums[i] + half) / area) | 0;
    }
    levels.push({ factor: f, sums, width, height, stride: width * 3, offset: 0 });
    images.set(f, { data, width, height });
  });
  return factors.map((f) => images.get(f)!);
}

/** Per pyramid step, a sums buffer kept between calls (grown when a larger tile needs it). */
const scratch: Uint32Array[] = [];
function scratchSums(step: number, length: number): Uint32Array {
  if (!scratch[step] || scratch[step].length < length) scratch[step] = new Uint32Array(length);
  return scratch[step].subarray(0, length);
}

/**
 * Sums of 2 x 2 blocks of RGB bytes (rows `stride` elements apart from `offset`) into `out`,
 * width x height pixels, and each sum rounded to a mean into `bytes`: (sum + half) >>> shift,
 * where 2^shift is the block's area at the top magnification (4 for the first step, 16 for
 * the next, ...). Two copies (bytes, and sums of an earlier step) keep each loop's
 * element type fixed, which V8 needs to run it at typed-array speed.
 */
function blockSums2Bytes(
  src: Uint8Array,
  stride: number,
  offset: number,
  width: number,
  height: number,
  out: Uint32Array,
  bytes: Uint8Array,
  shift: number,
): void {
  const half = (1 << shift) >> 1;
  for (let oy = 0; oy < height; oy++) {
    let a = offset + 2 * oy * stride,
      o = oy * width * 3;
    const end = o + width * 3;
    for (; o < end; a += 6, o += 3) {
      const b = a + stride;
      const r = src[a] + src[a + 3] + src[b] + src[b + 3],
        g = src[a + 1] + src[a + 4] + src[b + 1] + src[b + 4],
        u = src[a + 2] + src[a + 5] + src[b + 2] + src[b + 5];
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = u;
      bytes[o] = (r + half) >>> shift;
      bytes[o + 1] = (g + half) >>> shift;
      bytes[o + 2] = (u + half) >>> shift;
    }
  }
}

/** blockSums2Bytes over sums (Uint32Array, packed rows of `stride` elements) of an earlier step. */
function blockSums2(
  src: Uint32Array,
  stride: number,
  width: number,
  height: number,
  out: Uint32Array,
  bytes: Uint8Array,
  shift: number,
): void {
  const half = (1 << shift) >> 1;
  for (let oy = 0; oy < height; oy++) {
    let a = 2 * oy * stride,
      o = oy * width * 3;
    const end = o + width * 3;
    for (; o < end; a += 6, o += 3) {
      const b = a + stride;
      const r = src[a] + src[a + 3] + src[b] + src[b + 3],
        g = src[a + 1] + src[a + 4] + src[b + 1] + src[b + 4],
        u = src[a + 2] + src[a + 5] + src[b + 2] + src[b + 5];
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = u;
      bytes[o] = (r + half) >>> shift;
      bytes[o + 1] = (g + half) >>> shift;
      bytes[o + 2] = (u + half) >>> shift;
    }
  }
}

/** Sums of k x k blocks (any whole k), as blockSums2Bytes; `out` is overwritten. */
function blockSums(
  src: Uint8Array | Uint32Array,
  stride: number,
  offset: number,
  k: number,
  width: number,
  height: number,
  out: Uint32Array,
): void {
  out.fill(0);
  for (let oy = 0; oy < height; oy++) {
    for (let dy = 0; dy < k; dy++) {
      const row = offset + (oy * k + dy) * stride;
      let o = oy * width * 3;
      for (let ox = 0; ox < width; ox++, o += 3) {
        let p = row + ox * k * 3,
          r = 0,
          g = 0,
          b = 0;
        for (let dx = 0; dx < k; dx++, p += 3) {
          r += src[p];
          g += src[p + 1];
          b += src[p + 2];
        }
        out[o] += r;
        out[o + 1] += g;
        out[o + 2] += b;
      }
    }
  }
}
