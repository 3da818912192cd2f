/**
 * A small classic-TIFF writer for the slide tests: what sharp cannot write. Pages in the main
 * chain with optional SubIFDs, tiled or in one strip, 8-bit RGB, compression none (1), deflate
 * (8) or any code with caller-made tile bytes (e.g. 33003, Aperio's JPEG 2000, which only has to
 * be recognised and refused), ImageDescription (Aperio header, OME-XML), resolution tags.
 * Little-endian; image data first, directories after it.
 */
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import type { RgbImage } from '../../data/image.ts';

export interface PageSpec {
  image: RgbImage;
  /** Tile side, or 0 for one strip. */
  tile: number;
  compression: 1 | 8 | number;
  description?: string;
  /** Pixels per unit, and unit 2 inch / 3 centimetre. */
  resolution?: { x: number; y: number; unit: 2 | 3 };
  reduced?: boolean;
  subIfds?: PageSpec[];
  /** For codes other than 1 and 8: bytes to store for every tile. */
  opaqueTile?: Uint8Array;
  /** Ready-made tiles, row-major (e.g. one baseline JPEG stream each for compression 7). */
  tiles?: Uint8Array[];
  /** Photometric interpretation (default 2, RGB; 6 = YCbCr, written with 2x2 chroma subsampling). */
  photometric?: number;
}

/** Raw bytes of the tile at (tx, ty), padded with zeros to a full tile. */
function tileBytes(img: RgbImage, tx: number, ty: number, t: number): Uint8Array {
  const out = new Uint8Array(t * t * 3);
  for (let y = 0; y < t; y++) {
    const sy = ty * t + y;
    if (sy >= img.height) break;
    const w = Math.min(t, img.width - tx * t);
    out.set(img.data.subarray((sy * img.width + tx * t) * 3, (sy * img.width + tx * t + w) * 3), y * t * 3);
  }
  return out;
}

function encodeChunk(raw: Uint8Array, spec: PageSpec): Uint8Array {
  if (spec.compression === 1) return raw;
  if (spec.compression === 8) return deflateSync(raw);
  if (!spec.opaqueTile) throw new Error(`tiff_writer: compression ${spec.compression} needs opaqueTile bytes`);
  return spec.opaqueTile;
}

interface Laid {
  spec: PageSpec;
  offsets: number[];
  counts: number[];
  subs: Laid[];
}

export function writeTiff(path: string, pages: PageSpec[]): void {
  const chunks: Uint8Array[] = [];
  let pos = 8;
  const push = (b: Uint8Array) => {
    const at = pos;
    chunks.push(b);
    pos += b.length;
    if (pos % 2) {
      chunks.push(new Uint8Array(1));
      pos++;
    }
    return at;
  };
  const lay = (spec: PageSpec): Laid => {
    const offsets: number[] = [],
      counts: number[] = [];
    const { image: img, tile: t } = spec;
    if (spec.tiles) {
      for (const b of spec.tiles) {
        offsets.push(push(b));
        counts.push(b.length);
      }
    } else if (t > 0) {
      for (let ty = 0; ty < Math.ceil(img.height / t); ty++) {
        for (let tx = 0; tx < Math.ceil(img.width / t); tx++) {
          const b = encodeChunk(tileBytes(img, tx, ty, t), spec);
          offsets.push(push(b));
          counts.push(b.length);
        }
      }
    } else {
      const b = encodeChunk(img.data, spec);
      offsets.push(push(b));
      counts.push(b.length);
    }
    return { spec, offsets, counts, subs: (spec.subIfds ?? []).map(lay) };
  };
  const laid = pages.map(lay);

  // Directories: each one's entries, then the out-of-line values right after it.
  const dirAt = new Map<Laid, number>();
  const dirs: { laid: Laid; next: Laid | null }[] = [];
  laid.forEach((l, i) => {
    dirs.push({ laid: l, next: laid[i + 1] ?? null });
    for (const s of l.subs) dirs.push({ laid: s, next: null });
  });
  // First pass sizes the directories, second writes them with known offsets.
  const build = (l: Laid, at: number, next: number, subOffsets: number[]): Buffer => {
    const s = l.spec;
    type E = [tag: number, type: number, values: number[] | string];
    const entries: E[] = [
      [254, 4, [s.reduced ? 1 : 0]],
      [256, 4, [s.image.width]],
      [257, 4, [s.image.height]],
      [258, 3, [8, 8, 8]],
      [259, 3, [s.compression]],
      [262, 3, [s.photometric ?? 2]],
    ];
    if (s.description !== undefined) entries.push([270, 2, s.description]);
    if (!s.tile) entries.push([273, 4, l.offsets]);
    entries.push([277, 3, [3]]);
    if (!s.tile) entries.push([278, 4, [s.image.height]], [279, 4, l.counts]);
    if (s.resolution) entries.push([282, 5, [s.resolution.x]], [283, 5, [s.resolution.y]]);
    entries.push([284, 3, [1]]);
    if (s.resolution) entries.push([296, 3, [s.resolution.unit]]);
    if (s.tile) entries.push([322, 3, [s.tile]], [323, 3, [s.tile]], [324, 4, l.offsets], [325, 4, l.counts]);
    if (subOffsets.length) entries.push([330, 4, subOffsets]);
    if (s.photometric === 6) entries.push([530, 3, [2, 2]]);
    entries.sort((a, b) => a[0] - b[0]);
    const head = Buffer.alloc(2 + entries.length * 12 + 4);
    head.writeUInt16LE(entries.length, 0);
    const extra: Buffer[] = [];
    let extraAt = at + head.length;
    entries.forEach(([tag, type, values], i) => {
      const e = 2 + i * 12;
      let data: Buffer;
      if (typeof values === 'string') data = Buffer.from(values + '\0', 'latin1');
      else if (type === 3) {
        data = Buffer.alloc(values.length * 2);
        values.forEach((v, k) => data.writeUInt16LE(v, k * 2));
      } else if (type === 5) {
        data = Buffer.alloc(values.length * 8);
        values.forEach((v, k) => {
          data.writeUInt32LE(Math.round(v * 1000), k * 8);
          data.writeUInt32LE(1000, k * 8 + 4);
        });
      } else {
        data = Buffer.alloc(values.length * 4);
        values.forEach((v, k) => data.writeUInt32LE(v, k * 4));
      }
      head.writeUInt16LE(tag, e);
      head.writeUInt16LE(type, e + 2);
      head.writeUInt32LE(typeof values === 'string' ? data.length : values.length, e + 4);
      if (data.length <= 4) data.copy(head, e + 8);
      else {
        head.writeUInt32LE(extraAt, e + 8);
        extra.push(data);
        extraAt += data.length + (data.length % 2);
        if (data.length % 2) extra.push(Buffer.alloc(1));
      }
    });
    head.writeUInt32LE(next, 2 + entries.length * 12);
    return Buffer.concat([head, ...extra]);
  };
  const sizes = dirs.map(
    (d) =>
      build(
        d.laid,
        0,
        0,
        d.laid.subs.map(() => 0),
      ).length,
  );
  let at = pos;
  dirs.forEach((d, i) => {
    dirAt.set(d.laid, at);
    at += sizes[i];
  });
  const blobs = dirs.map((d) =>
    build(
      d.laid,
      dirAt.get(d.laid)!,
      d.next ? dirAt.get(d.next)! : 0,
      d.laid.subs.map((s) => dirAt.get(s)!),
    ),
  );
  const header = Buffer.alloc(8);
  header.write('II', 0, 'latin1');
  header.writeUInt16LE(42, 2);
  header.writeUInt32LE(dirAt.get(laid[0])!, 4);
  writeFileSync(path, Buffer.concat([header, ...chunks, ...blobs]));
}
