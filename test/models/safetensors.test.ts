/**
 * safetensors reader/writer: layout against the format's definition, bit-exact round trips,
 * dtype conversions against IEEE bit patterns, corrupt files, atomic writes. No GPU needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, writeFileSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, decodeSafetensors, readSafetensors, writeSafetensors, SafetensorsError } from '../../models/safetensors.ts';
import { Rng } from '../../engine/random.ts';

const dir = mkdtempSync(join(tmpdir(), 'rbd-safetensors-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Build a file by hand, independently of encodeSafetensors: header JSON then raw data bytes. */
function handBuilt(header: object, data: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('encode layout: u64 LE header length, 8-aligned JSON header, F32 entries tiling the data', () => {
  const a = new Float32Array([1, 2, 3, 4, 5, 6]);
  const b = new Float32Array([-0.5]);
  const bytes = encodeSafetensors(
    [
      ['w', { shape: [2, 3], data: a }],
      ['b', { shape: [1], data: b }],
    ],
    { epoch: '3' },
  );
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is(n % 8, 0, 'header padded to 8 bytes');
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  assert.equal(header.__metadata__, { epoch: '3' });
  assert.equal(header.w, { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  assert.equal(header.b, { dtype: 'F32', shape: [1], data_offsets: [24, 28] });
  assert.is(bytes.length, 8 + n + 28);
  const view = new DataView(bytes.buffer, 8 + n);
  assert.is(view.getFloat32(4 * 5, true), 6);
  assert.is(view.getFloat32(24, true), -0.5);
});

test('round trip is bit-exact (random values, -0, subnormal, inf, NaN), metadata kept', () => {
  const rng = new Rng(5);
  const x = Float32Array.from(rng.array(1000, () => rng.normal(0, 10)));
  x.set([-0, 1e-40, Infinity, -Infinity, NaN], 0);
  const file = join(dir, 'rt.safetensors');
  writeSafetensors(
    file,
    [
      ['x', { shape: [10, 10, 10], data: x }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ],
    { note: 'héllo ∑' },
  );
  const back = readSafetensors(file);
  assert.equal(back.metadata, { note: 'héllo ∑' });
  const y = back.tensors.get('x')!;
  assert.equal(y.shape, [10, 10, 10]);
  assert.equal(Array.from(new Uint32Array(y.data!.buffer)), Array.from(new Uint32Array(x.buffer)));
  assert.equal(back.tensors.get('empty')!.shape, [0, 4]);
});

test('decode converts F16, BF16, F64 to f32 and passes I64 through raw', () => {
  const data = new Uint8Array(8 + 4 + 16 + 8);
  const v = new DataView(data.buffer);
  // F16 bit patterns (IEEE 754 binary16): 1.0 = 0x3C00, -2.0 = 0xC000, 2^-24 (smallest subnormal) = 0x0001, +inf = 0x7C00.
  [0x3c00, 0xc000, 0x0001, 0x7c00].forEach((h, i) => v.setUint16(2 * i, h, true));
  // BF16 = top 16 bits of float32: 1.5 = 0x3FC0, 3.0 = 0x4040.
  [0x3fc0, 0x4040].forEach((h, i) => v.setUint16(8 + 2 * i, h, true));
  v.setFloat64(12, 0.1, true);
  v.setFloat64(20, -1e300, true);
  v.setBigInt64(28, 7n, true);
  const bytes = handBuilt(
    {
      h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
      bf: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] },
      d: { dtype: 'F64', shape: [2], data_offsets: [12, 28] },
      n: { dtype: 'I64', shape: [], data_offsets: [28, 36] },
    },
    data,
  );
  const st = decodeSafetensors(bytes);
  assert.equal(Array.from(st.tensors.get('h')!.data!), [1, -2, 2 ** -24, Infinity]);
  assert.equal(Array.from(st.tensors.get('bf')!.data!), [1.5, 3]);
  assert.equal(Array.from(st.tensors.get('d')!.data!), [Math.fround(0.1), -Infinity]);
  const n = st.tensors.get('n')!;
  assert.is(n.data, null);
  assert.is(new DataView(n.raw.buffer, n.raw.byteOffset).getBigInt64(0, true), 7n);
});

const good = () => encodeSafetensors([['w', { shape: [3], data: new Float32Array([1, 2, 3]) }]]);

for (const [what, make, pattern] of [
  ['3-byte file', () => new Uint8Array(3), /shorter than the 8-byte header length/],
  ['truncated data', () => good().subarray(0, good().length - 1), /ends at byte 12 of the data section, which has only 11 bytes/],
  [
    'header length beyond the file',
    () => {
      const b = good();
      new DataView(b.buffer).setBigUint64(0, 1n << 40n, true);
      return b;
    },
    /header length 1099511627776 exceeds/,
  ],
  ['header not JSON', () => handBuilt({}, new Uint8Array(0)).map((c, i) => (i === 8 ? 0x7b + 1 : c)), /header is not JSON/],
  ['unknown dtype', () => handBuilt({ w: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unknown dtype "F8"/],
  [
    'size mismatch',
    () => handBuilt({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /needs 8 bytes but data_offsets span 4/,
  ],
  [
    'gap in data',
    () => handBuilt({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
    /bytes 0\.\.4 of the data section belong to no tensor/,
  ],
  [
    'overlap',
    () =>
      handBuilt(
        { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } },
        new Uint8Array(8),
      ),
    /overlaps/,
  ],
  [
    'trailing bytes',
    () => handBuilt({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)),
    /has 8 bytes but the tensors cover 4/,
  ],
] as [string, () => Uint8Array, RegExp][]) {
  test(`corrupt file (${what}) is rejected with a message naming the file`, () => {
    const file = join(dir, 'bad.safetensors');
    writeFileSync(file, make());
    try {
      readSafetensors(file);
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.instance(e, SafetensorsError);
      const msg = (e as Error).message;
      assert.ok(msg.startsWith(file), msg);
      assert.match(msg, pattern);
    }
  });
}

test('missing file: clear error', () => {
  assert.throws(() => readSafetensors(join(dir, 'nope.safetensors')), /nope\.safetensors: no such file/);
});

test('atomic write: no temporary left behind; a failed write leaves the target untouched and no temporary', () => {
  const sub = join(dir, 'atomic');
  mkdirSync(sub);
  const file = join(sub, 'm.safetensors');
  writeSafetensors(file, [['w', { shape: [1], data: new Float32Array([1]) }]]);
  writeSafetensors(file, [['w', { shape: [1], data: new Float32Array([2]) }]]);
  assert.equal(readdirSync(sub), ['m.safetensors']);
  assert.is(readSafetensors(file).tensors.get('w')!.data![0], 2);
  // Renaming a file over a non-empty directory fails after the temporary was written.
  const blocker = join(sub, 'dir.safetensors');
  mkdirSync(blocker);
  writeFileSync(join(blocker, 'keep'), 'x');
  assert.throws(() => writeSafetensors(blocker, [['w', { shape: [1], data: new Float32Array([3]) }]]), /dir\.safetensors: cannot write/);
  assert.equal(readdirSync(sub).sort(), ['dir.safetensors', 'm.safetensors']);
  assert.is(readFileSync(join(blocker, 'keep'), 'utf8'), 'x');
});

test('encode rejects a data length that does not match the shape', () => {
  assert.throws(
    () => encodeSafetensors([['w', { shape: [2, 2], data: new Float32Array(3) }]]),
    /'w' has 3 values but shape \[2,2\] needs 4/,
  );
});

test.run();
