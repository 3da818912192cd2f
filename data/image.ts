/**
 * 8-bit RGB images as plain typed arrays, and the three things done to them on the CPU:
 * decode (sharp, any format it reads), encode (PNG, byte-for-byte deterministic) and area
 * downsampling by a whole factor (the exact block mean, as a slide pyramid is made).
 *
 * Layout: `data` is interleaved RGB, row-major: pixel (y, x) channel c at (y * width + x) * 3 + c.
 */
import sharp from 'sharp';
import { DataError } from './errors.ts';

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** File extensions read as images (lower case, with the dot). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.webp'];

export function isImageFile(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot >= 0 && IMAGE_EXTENSIONS.includes(name.slice(dot).toLowerCase());
}

/**
 * Area downsampling by a whole factor f: output pixel (y, x) is the mean of the f x f block
 * at (y*f, x*f), rounded to the nearest grey level (halves up). Sizes that f does not divide
 * lose their last partial row/column of blocks (floor), as pyramid levels of whole blocks do.
 */
export function areaDownsample(img: RgbImage, factor: number): RgbImage {
  if (!Number.isInteger(factor) || factor < 1) throw new DataError(`areaDownsample: factor must be a whole number >= 1, got ${factor}`);
  if (factor === 1) return { data: img.data.slice(), width: img.width, height: img.height };
  const width = Math.floor(img.width / factor);
  const height = Math.floor(img.height / factor);
  if (width === 0 || height === 0) {
    throw new DataError(
      `areaDownsample: a ${img.width}x${img.height} image is smaller than one ${factor}x${factor} block; use a larger tile or fewer magnifications`,
    );
  }
  const out = new Uint8Array(width * height * 3);
  // Sums of one output row, per channel: accumulate `factor` source rows, then divide.
  const sums = new Uint32Array(width * 3);
  const area = factor * factor;
  const half = area >> 1;
  const src = img.data;
  for (let oy = 0; oy < height; oy++) {
    sums.fill(0);
    for (let dy = 0; dy < factor; dy++) {
      const row = (oy * factor + dy) * img.width * 3;
      for (let ox = 0; ox < width; ox++) {
        let p = row + ox * factor * 3;
        let r = 0,
          g = 0,
          b = 0;
        for (let dx = 0; dx < factor; dx++, p += 3) {
          r += src[p];
          g += src[p + 1];
          b += src[p + 2];
        }
        sums[ox * 3] += r;
        sums[ox * 3 + 1] += g;
        sums[ox * 3 + 2] += b;
      }
    }
    const o = oy * width * 3;
    for (let i = 0; i < width * 3; i++) out[o + i] = Math.floor((sums[i] + half) / area);
  }
  return { data: out, width, height };
}

/**
 * Decode any image sharp reads into 8-bit RGB (alpha dropped, grey expanded to R = G = B).
 * An unreadable file is a DataError naming it.
 */
export async function decodeImage(path: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(path, { failOn: 'error' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (e) {
    throw new DataError(`cannot read image ${path}: ${(e as Error).message}`);
  }
}

/**
 * Encode RGB as PNG. Fixed options and no metadata, so the same pixels always give the same
 * bytes (zlib is deterministic for a fixed level and strategy).
 */
export async function encodePng(img: RgbImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 3, adaptiveFiltering: false, palette: false })
    .toBuffer();
}
