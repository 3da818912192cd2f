/**
 * A small PNG writer for 8-bit RGB tiles, built on node:zlib. The tiler writes four PNGs per
 * tile; sharp's encoder costs a libvips pipeline per call and compresses at a rate far below the
 * JPEG decode that feeds it, so tiling would be bound by encoding. Here one call is a row copy
 * (with the PNG filter byte), one zlib call and one CRC.
 *
 * Layout (PNG 1.2): signature, IHDR (width, height, bit depth 8, colour type 2 = RGB, deflate,
 * filter method 0, no interlace), one IDAT holding the whole zlib stream, IEND. No other chunks,
 * so the same pixels and mode always give the same bytes.
 *
 * Modes (`PngCompression`):
 *   - 'none': every row with filter 0 (None), deflate stored blocks (zlib level 0). Lossless, the
 *     size of the raw pixels plus a few bytes per row, and the cheapest to write and to read back.
 *   - 'fast': filter 2 (Up) on every row, then Huffman-only deflate (Z_HUFFMAN_ONLY): smaller
 *     files on H&E, several times the encode time ('rbd bench tile' prints both).
 *   - 'small': filter 2 (Up), deflate level 6 (zlib's default).
 */
import zlib from 'node:zlib';
import { DataError } from '../errors.ts';

export type PngCompression = 'none' | 'fast' | 'small';
export const PNG_COMPRESSIONS: readonly PngCompression[] = ['none', 'fast', 'small'];

let scanlines = Buffer.allocUnsafe(0);

/** zlib's least output chunk. */
const MIN_CHUNK = 64;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const ZLIB_OPTIONS: Record<PngCompression, zlib.ZlibOptions> = {
  // Stored blocks search nothing: the smallest window and hash (zlib allocates and clears them per call).
  none: { level: 0, memLevel: 1, windowBits: 9 },
  fast: { level: 1, strategy: zlib.constants.Z_HUFFMAN_ONLY },
  small: { level: 6 },
};

/**
 * Encode `height` rows of `width` RGB pixels as PNG. Row y starts at byte `offset + y * stride`
 * of `data` (stride >= 3 * width), so a tile can be encoded straight out of a larger window.
 */
export function encodeRgbPng(
  data: Uint8Array,
  width: number,
  height: number,
  compression: PngCompression = 'none',
  stride = width * 3,
  offset = 0,
): Buffer {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw new DataError(`encodeRgbPng: image size must be whole and positive, got ${width}x${height}`);
  const rowBytes = width * 3;
  if (stride < rowBytes || offset < 0 || offset + (height - 1) * stride + rowBytes > data.length)
    throw new DataError(
      `encodeRgbPng: ${width}x${height} RGB rows at offset ${offset}, stride ${stride} do not fit in ${data.length} bytes of pixels`,
    );
  const options = ZLIB_OPTIONS[compression];
  if (!options) throw new DataError(`PNG compression '${compression}' is not one of ${PNG_COMPRESSIONS.join(', ')}`);

  // Scanlines: one filter-type byte, then the row (filtered).
  const line = rowBytes + 1;
  // Reused between calls (zlib has consumed it when deflateSync returns): a tile's worth of garbage less per image.
  if (scanlines.length < line * height) scanlines = Buffer.allocUnsafe(Math.max(line * height, 2 * scanlines.length));
  const raw = scanlines.subarray(0, line * height);
  if (compression === 'none') {
    // Buffer.copy takes a range, so no view is made per row.
    const src = Buffer.from(data.buffer, data.byteOffset, data.length);
    for (let y = 0; y < height; y++) {
      const o = y * line;
      raw[o] = 0;
      src.copy(raw, o + 1, offset + y * stride, offset + y * stride + rowBytes);
    }
  } else {
    // Up: the byte minus the byte above (0 above the first row), modulo 256.
    raw[0] = 2;
    raw.set(data.subarray(offset, offset + rowBytes), 1);
    for (let y = 1; y < height; y++) {
      const o = y * line + 1;
      const cur = offset + y * stride,
        above = cur - stride;
      raw[o - 1] = 2;
      for (let i = 0; i < rowBytes; i++) raw[o + i] = data[cur + i] - data[above + i];
    }
  }
  // One output buffer that holds the whole stream (zlib's default 16 KiB chunks cost a round trip and a
  // concatenation each): stored blocks add 5 bytes per 65535 and the zlib wrapper 6; the other modes rarely exceed the input.
  const chunkSize = Math.max(MIN_CHUNK, raw.length + 5 * Math.ceil(raw.length / 65535) + 64);
  const stream = zlib.deflateSync(raw, { ...options, chunkSize });

  const png = Buffer.allocUnsafe(8 + 25 + 12 + stream.length + 12);
  SIGNATURE.copy(png, 0);
  let p = 8;
  // IHDR
  png.writeUInt32BE(13, p);
  png.write('IHDR', p + 4, 'latin1');
  png.writeUInt32BE(width, p + 8);
  png.writeUInt32BE(height, p + 12);
  png[p + 16] = 8; // bit depth
  png[p + 17] = 2; // colour type: RGB
  png[p + 18] = 0; // compression: deflate
  png[p + 19] = 0; // filter method 0
  png[p + 20] = 0; // no interlace
  png.writeUInt32BE(crc32(png.subarray(p + 4, p + 21)), p + 21);
  p += 25;
  // IDAT
  png.writeUInt32BE(stream.length, p);
  png.write('IDAT', p + 4, 'latin1');
  stream.copy(png, p + 8);
  png.writeUInt32BE(crc32(png.subarray(p + 4, p + 8 + stream.length)), p + 8 + stream.length);
  p += 12 + stream.length;
  // IEND
  png.writeUInt32BE(0, p);
  png.write('IEND', p + 4, 'latin1');
  png.writeUInt32BE(crc32(png.subarray(p + 4, p + 8)), p + 8);
  return png;
}

let table: Uint32Array | null = null;

/** CRC-32 (ISO 3309, as PNG chunks use it), bytewise with a 256-entry table: for Node builds without zlib.crc32. */
export function crc32Table(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** zlib.crc32 (native, Node >= 20.15) when present, else the table version. */
const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
export const crc32: (bytes: Uint8Array) => number = nativeCrc32 ? (b) => nativeCrc32(b) >>> 0 : crc32Table;
