/**
 * The structure of a TIFF file (classic or BigTIFF, either byte order) without its pixels:
 * every image file directory (IFD) of the main chain and their SubIFDs, with the tags a slide
 * reader needs. Only the header and the directories are read (a few kilobytes however large
 * the slide), so a slide can be checked before anything is decoded: its levels, tile sizes,
 * compression, resolution tags, description, and whether every tile or strip lies inside the
 * file (a truncated copy is caught here, by name, rather than deep inside the decoder).
 *
 * The pixels themselves are decoded by libvips through sharp (see slide.ts): this module only
 * tells it which directory to open.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SlideError } from './errors.ts';

/** One image file directory. */
export interface TiffDirectory {
  /** Position in the main IFD chain (0 = first page); for a SubIFD, its parent's page. */
  page: number;
  /** Index among its parent's SubIFDs, or -1 for a page of the main chain. */
  subIfd: number;
  width: number;
  height: number;
  /** Tile size, or 0 when the image is stored in strips. */
  tileWidth: number;
  tileHeight: number;
  /** TIFF compression code (1 none, 5 LZW, 7 JPEG, 8 deflate, 33003/33005 Aperio JPEG 2000, ...). */
  compression: number;
  photometric: number;
  samplesPerPixel: number;
  bitsPerSample: number;
  /** NewSubfileType bit 0: a reduced-resolution copy of another image. */
  reduced: boolean;
  /** ImageDescription (Aperio header, OME-XML), '' when absent. */
  description: string;
  /** XResolution/YResolution in pixels per unit, and ResolutionUnit (1 none, 2 inch, 3 centimetre); 0 when absent. */
  xResolution: number;
  yResolution: number;
  resolutionUnit: number;
  /** Number of tiles (or strips) and the end of the furthest one in the file. */
  chunks: number;
  dataEnd: number;
  subIfds: TiffDirectory[];
}

export interface TiffFile {
  path: string;
  size: number;
  bigTiff: boolean;
  littleEndian: boolean;
  pages: TiffDirectory[];
}

const TAG = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  ImageDescription: 270,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  StripByteCounts: 279,
  XResolution: 282,
  YResolution: 283,
  ResolutionUnit: 296,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SubIFDs: 330,
} as const;

/** Bytes per value of each TIFF field type (1 BYTE ... 18 IFD8). */
const TYPE_SIZE: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  16: 8,
  17: 8,
  18: 8,
};

/** At most this many directories: a loop in a corrupt IFD chain must not spin forever. */
const MAX_DIRECTORIES = 4096;

/** Random-access reads of one open file, with errors naming it. */
class Reader {
  private readonly fd: number;
  readonly size: number;
  littleEndian = true;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
      this.size = fstatSync(this.fd).size;
    } catch (e) {
      throw new SlideError(path, 'unreadable', `cannot open ${path}: ${(e as Error).message}; check the path and its permissions`);
    }
  }

  bytes(offset: number, length: number): Buffer {
    if (offset < 0 || offset + length > this.size) {
      throw new SlideError(
        this.path,
        'truncated',
        `${this.path} is truncated or corrupt: the TIFF structure points to bytes ${offset}..${offset + length} of a ${this.size}-byte file; copy the slide again from its source`,
      );
    }
    const buf = Buffer.alloc(length);
    let done = 0;
    try {
      while (done < length) {
        const n = readSync(this.fd, buf, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      throw new SlideError(this.path, 'unreadable', `cannot read ${this.path}: ${(e as Error).message}`);
    }
    return buf;
  }

  u16(b: Buffer, at: number): number {
    return this.littleEndian ? b.readUInt16LE(at) : b.readUInt16BE(at);
  }
  u32(b: Buffer, at: number): number {
    return this.littleEndian ? b.readUInt32LE(at) : b.readUInt32BE(at);
  }
  u64(b: Buffer, at: number): number {
    const v = this.littleEndian ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SlideError(this.path, 'corrupt', `${this.path} is corrupt: an offset of ${v} bytes`);
    return Number(v);
  }

  close() {
    closeSync(this.fd);
  }
}

interface Entry {
  tag: number;
  type: number;
  count: number;
  valueAt: number;
  inline: Buffer;
}

/** Read the directories of a TIFF file. A file that is not a TIFF, or whose structure is broken, is a SlideError naming it. */
export function readTiff(path: string): TiffFile {
  const r = new Reader(path);
  try {
    if (r.size < 8) throw new SlideError(path, 'not-slide', `${path} is not a slide: ${r.size} bytes, too short for a TIFF header`);
    const head = r.bytes(0, 16 <= r.size ? 16 : 8);
    const order = head.toString('latin1', 0, 2);
    if (order !== 'II' && order !== 'MM') {
      throw new SlideError(
        path,
        'not-slide',
        `${path} is not a slide: no TIFF header (Aperio SVS, pyramidal TIFF and OME-TIFF are read; other formats can be converted with 'vips tiffsave IN OUT.tif --tile --pyramid --compression jpeg')`,
      );
    }
    r.littleEndian = order === 'II';
    const magic = r.u16(head, 2);
    let bigTiff = false;
    let first: number;
    if (magic === 42) first = r.u32(head, 4);
    else if (magic === 43 && head.length >= 16) {
      bigTiff = true;
      first = r.u64(head, 8);
    } else
      throw new SlideError(
        path,
        'not-slide',
        `${path} is not a slide: TIFF byte-order mark but version ${magic} (expected 42, or 43 for BigTIFF)`,
      );

    const seen = new Set<number>();
    const pages: TiffDirectory[] = [];
    let next = first;
    while (next !== 0) {
      if (seen.has(next) || seen.size >= MAX_DIRECTORIES)
        throw new SlideError(path, 'corrupt', `${path} is corrupt: its directory chain loops or exceeds ${MAX_DIRECTORIES} directories`);
      seen.add(next);
      const { dir, nextOffset } = readDirectory(r, next, bigTiff, pages.length, -1, seen);
      pages.push(dir);
      next = nextOffset;
    }
    if (pages.length === 0) throw new SlideError(path, 'not-slide', `${path} is not a slide: a TIFF with no images`);
    return { path, size: r.size, bigTiff, littleEndian: r.littleEndian, pages };
  } finally {
    r.close();
  }
}

function readDirectory(
  r: Reader,
  offset: number,
  bigTiff: boolean,
  page: number,
  subIfd: number,
  seen: Set<number>,
): { dir: TiffDirectory; nextOffset: number } {
  const countSize = bigTiff ? 8 : 2;
  const entrySize = bigTiff ? 20 : 12;
  const offSize = bigTiff ? 8 : 4;
  const countBuf = r.bytes(offset, countSize);
  const n = bigTiff ? r.u64(countBuf, 0) : r.u16(countBuf, 0);
  if (n === 0 || n > 10000)
    throw new SlideError(r.path, 'corrupt', `${r.path} is corrupt: a TIFF directory at byte ${offset} claims ${n} entries`);
  const body = r.bytes(offset + countSize, n * entrySize + offSize);
  const entries = new Map<number, Entry>();
  for (let i = 0; i < n; i++) {
    const at = i * entrySize;
    const tag = r.u16(body, at);
    const type = r.u16(body, at + 2);
    const count = bigTiff ? r.u64(body, at + 4) : r.u32(body, at + 4);
    const valueField = at + (bigTiff ? 12 : 8);
    const size = (TYPE_SIZE[type] ?? 1) * count;
    const inline = body.subarray(valueField, valueField + offSize);
    entries.set(tag, {
      tag,
      type,
      count,
      valueAt: size <= offSize ? -1 : bigTiff ? r.u64(body, valueField) : r.u32(body, valueField),
      inline,
    });
  }
  const nextOffset = bigTiff ? r.u64(body, n * entrySize) : r.u32(body, n * entrySize);

  const values = (tag: number): number[] => {
    const e = entries.get(tag);
    if (!e) return [];
    const size = TYPE_SIZE[e.type] ?? 1;
    const buf = e.valueAt < 0 ? e.inline : r.bytes(e.valueAt, size * e.count);
    const out: number[] = [];
    for (let i = 0; i < e.count; i++) {
      const at = i * size;
      switch (e.type) {
        case 1:
        case 6:
        case 7:
          out.push(buf[at]);
          break;
        case 3:
        case 8:
          out.push(r.u16(buf, at));
          break;
        case 4:
        case 9:
        case 13:
          out.push(r.u32(buf, at));
          break;
        case 5:
        case 10:
          out.push(r.u32(buf, at) / (r.u32(buf, at + 4) || 1));
          break;
        case 16:
        case 17:
        case 18:
          out.push(r.u64(buf, at));
          break;
        default:
          out.push(0);
      }
    }
    return out;
  };
  const one = (tag: number, fallback: number) => values(tag)[0] ?? fallback;
  const text = (tag: number): string => {
    const e = entries.get(tag);
    if (!e) return '';
    const buf = e.valueAt < 0 ? e.inline.subarray(0, e.count) : r.bytes(e.valueAt, e.count);
    return buf.toString('latin1').replace(/\0+$/, '');
  };

  const width = one(TAG.ImageWidth, 0),
    height = one(TAG.ImageLength, 0);
  if (width === 0 || height === 0) throw new SlideError(r.path, 'corrupt', `${r.path} is corrupt: page ${page} has no image size`);
  const tileWidth = one(TAG.TileWidth, 0),
    tileHeight = one(TAG.TileLength, 0);
  const offsets = tileWidth ? values(TAG.TileOffsets) : values(TAG.StripOffsets);
  const counts = tileWidth ? values(TAG.TileByteCounts) : values(TAG.StripByteCounts);
  if (offsets.length === 0 || offsets.length !== counts.length) {
    throw new SlideError(
      r.path,
      'corrupt',
      `${r.path} is corrupt: page ${page} has ${offsets.length} data offsets and ${counts.length} byte counts`,
    );
  }
  let dataEnd = 0;
  for (let i = 0; i < offsets.length; i++) dataEnd = Math.max(dataEnd, offsets[i] + counts[i]);
  if (dataEnd > r.size) {
    throw new SlideError(
      r.path,
      'truncated',
      `${r.path} is truncated: page ${page} (${width} x ${height}) needs bytes up to ${dataEnd} but the file has ${r.size}; copy the slide again from its source`,
    );
  }
  const dir: TiffDirectory = {
    page,
    subIfd,
    width,
    height,
    tileWidth,
    tileHeight,
    compression: one(TAG.Compression, 1),
    photometric: one(TAG.Photometric, 2),
    samplesPerPixel: one(TAG.SamplesPerPixel, 1),
    bitsPerSample: one(TAG.BitsPerSample, 1),
    reduced: (one(TAG.NewSubfileType, 0) & 1) === 1,
    description: text(TAG.ImageDescription),
    xResolution: one(TAG.XResolution, 0),
    yResolution: one(TAG.YResolution, 0),
    resolutionUnit: one(TAG.ResolutionUnit, 2),
    chunks: offsets.length,
    dataEnd,
    subIfds: [],
  };
  if (subIfd < 0) {
    const subs = values(TAG.SubIFDs);
    subs.forEach((at, i) => {
      if (seen.has(at)) throw new SlideError(r.path, 'corrupt', `${r.path} is corrupt: SubIFD ${i} of page ${page} repeats a directory`);
      seen.add(at);
      dir.subIfds.push(readDirectory(r, at, bigTiff, page, i, seen).dir);
    });
  }
  return { dir, nextOffset };
}

/** Names of TIFF compressions, for messages. */
export const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none',
  5: 'LZW',
  6: 'old-style JPEG',
  7: 'JPEG',
  8: 'deflate',
  32946: 'deflate',
  32773: 'PackBits',
  33003: 'JPEG 2000 (Aperio, YCbCr)',
  33004: 'JPEG 2000 (Aperio)',
  33005: 'JPEG 2000 (Aperio, RGB)',
  34712: 'JPEG 2000',
  34887: 'LERC',
  34892: 'lossy JPEG (DNG)',
  50000: 'ZSTD',
  50001: 'WebP',
  50002: 'JPEG XL',
};

/** Compressions the libvips/libtiff build inside sharp decodes. */
export const DECODABLE_COMPRESSIONS = new Set([1, 5, 7, 8, 32946, 32773, 50000, 50001]);
