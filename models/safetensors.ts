/**
 * The safetensors file format, read and written on the host (no GPU).
 *
 * Layout: an unsigned 64-bit little-endian header length n; n bytes of UTF-8 JSON mapping
 * each tensor name to { dtype, shape, data_offsets: [begin, end] } (byte offsets into the data
 * section that follows the header), plus an optional "__metadata__" map of string to string;
 * then the data section, row-major little-endian values, the tensors' ranges tiling it with no
 * gap or overlap. We pad the header with spaces to a multiple of 8 bytes (allowed by the
 * format) so every tensor starts aligned.
 *
 * We write F32 only. Reading converts F32, F64, F16 and BF16 to Float32Array; other dtypes
 * (e.g. I64 `num_batches_tracked` in a PyTorch batch-norm state_dict) are returned with
 * `data: null` and their raw bytes, for the caller to use or ignore.
 */
import { readFileSync, existsSync } from 'node:fs';
import { writeFileAtomic } from '../util/files.ts';

export interface StoredTensor {
  dtype: string;
  shape: number[];
  /** Values as float32 (converted from F64/F16/BF16), or null for non-float dtypes. */
  data: Float32Array | null;
  raw: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/** A file that is not a well-formed safetensors file, or cannot be read or written. */
export class SafetensorsError extends Error {
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'SafetensorsError';
  }
}

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  U16: 2,
  U32: 4,
  U64: 8,
  BOOL: 1,
};

/** Headers above this are not tensors files (a guard against reading garbage as a length). */
const MAX_HEADER_BYTES = 100_000_000;

/** Serialize float32 tensors and string metadata. Tensors are laid out in the order given. */
export function encodeSafetensors(
  tensors: Iterable<[string, { shape: readonly number[]; data: Float32Array }]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') throw new Error(`safetensors metadata '${k}' must be a string, got ${typeof v}`);
    header.__metadata__ = metadata;
  }
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__' || name in header) throw new Error(`safetensors: tensor name '${name}' is reserved or repeated`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new Error(`safetensors: tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(',')}] needs ${n}`);
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
    parts.push(t.data);
  }
  let json = JSON.stringify(header);
  const jsonBytes = () => Buffer.byteLength(json, 'utf8');
  while (jsonBytes() % 8 !== 0) json += ' ';
  const headerLen = jsonBytes();
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLen), true);
  Buffer.from(out.buffer, 8, headerLen).write(json, 'utf8');
  let pos = 8 + headerLen;
  // Float32Array bytes are in the host's order; every platform Node runs on is little-endian,
  // but check rather than assume.
  if (new Uint8Array(new Float32Array([1]).buffer)[3] !== 0x3f) throw new Error('safetensors: big-endian hosts are not supported');
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), pos);
    pos += p.byteLength;
  }
  return out;
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal (or zero)
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function toFloat32(dtype: string, raw: Uint8Array, n: number): Float32Array | null {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
      return out;
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      return null;
  }
}

/** Parse a safetensors file's bytes; `file` names it in errors. Checks every header entry. */
export function decodeSafetensors(bytes: Uint8Array, file = 'safetensors data'): SafetensorsFile {
  const corrupt = (detail: string) =>
    new SafetensorsError(file, `not a valid safetensors file: ${detail} (is it truncated, or another format?)`);
  if (bytes.length < 8) throw corrupt(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw corrupt(`header length ${headerLen64} exceeds the ${bytes.length - 8} bytes that follow`);
  }
  const headerLen = Number(headerLen64);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLen).toString('utf8'));
  } catch (e) {
    throw corrupt(`header is not JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw corrupt('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, StoredTensor>();
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw corrupt('__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw corrupt(`__metadata__ value '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e?.dtype !== 'string' || !(e.dtype in DTYPE_BYTES))
      throw corrupt(`tensor '${name}' has unknown dtype ${JSON.stringify(e?.dtype)}`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0))
      throw corrupt(`tensor '${name}' has invalid shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isInteger(o) || o < 0) || offs[1] < offs[0]) {
      throw corrupt(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const shape = e.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== n * DTYPE_BYTES[e.dtype])
      throw corrupt(
        `tensor '${name}' ${e.dtype} [${shape.join(',')}] needs ${n * DTYPE_BYTES[e.dtype]} bytes but data_offsets span ${end - begin}`,
      );
    if (end > dataLen) throw corrupt(`tensor '${name}' ends at byte ${end} of the data section, which has only ${dataLen} bytes`);
    ranges.push([begin, end, name]);
    // Copy so that the result does not pin the whole file and is aligned for typed arrays.
    const raw = bytes.slice(dataStart + begin, dataStart + end);
    tensors.set(name, { dtype: e.dtype, shape, data: toFloat32(e.dtype, raw, n), raw });
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let covered = 0;
  for (const [begin, end, name] of ranges) {
    if (begin < covered) throw corrupt(`tensor '${name}' overlaps the tensor before it`);
    if (begin > covered) throw corrupt(`bytes ${covered}..${begin} of the data section belong to no tensor`);
    covered = end;
  }
  if (covered !== dataLen) throw corrupt(`the data section has ${dataLen} bytes but the tensors cover ${covered}`);
  return { tensors, metadata };
}

/** Read and parse a safetensors file, with errors naming it. */
export function readSafetensors(path: string): SafetensorsFile {
  if (!existsSync(path)) throw new SafetensorsError(path, 'no such file (check the path)');
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(path, `cannot read: ${(e as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}

/** Encode and write atomically. */
export function writeSafetensors(
  path: string,
  tensors: Iterable<[string, { shape: readonly number[]; data: Float32Array }]>,
  metadata: Record<string, string> = {},
) {
  try {
    writeFileAtomic(path, encodeSafetensors(tensors, metadata));
  } catch (e) {
    throw new SafetensorsError(path, `cannot write: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
  }
}
