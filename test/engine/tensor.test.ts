// @smoke-gl
/** Tensors: round trips, pool reuse, scopes, eager shape errors. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { memoryStats } from '../../engine/pool.ts';
import { add } from '../../engine/ops/add.ts';

test.before(async () => {
  await gpu();
});

for (const [shape, dtype] of [
  [[1], 'f32'],
  [[3, 5, 7], 'f32'],
  [[2, 1, 1, 1], 'i32'],
  [[1000], 'u32'],
  [[0], 'f32'],
  [[4097, 3], 'f32'],
] as const) {
  test(`round trip shape=[${shape}] ${dtype}`, async () => {
    const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
    const data: number[] = Array.from({ length: n }, (_, i) => (dtype === 'f32' ? i * 0.5 - 3.25 : dtype === 'i32' ? i - 7 : i * 3 + 1));
    const t = Tensor.from(data, shape, dtype);
    const back = await t.read();
    assert.is(back.constructor.name, dtype === 'f32' ? 'Float32Array' : dtype === 'i32' ? 'Int32Array' : 'Uint32Array');
    assert.equal(Array.from(back), data);
    t.dispose();
  });
}

test('zeros is zero even on a recycled buffer', async () => {
  const a = Tensor.full([333], 7);
  a.dispose(); // its buffer goes back to the pool ...
  const z = Tensor.zeros([333]); // ... and is handed out again here
  assert.ok((await z.read()).every((v) => v === 0));
  z.dispose();
});

test('an upload recorded after pending dispatches does not overtake them', async () => {
  // a + b is recorded (not submitted); then a's buffer is recycled for c and c is written.
  // Were the write to overtake the dispatch, the sum would read c's data.
  const a = Tensor.full([64], 1);
  const b = Tensor.full([64], 2);
  const s = add(a, b);
  a.dispose();
  const c = Tensor.full([64], 100);
  assert.ok((await s.read()).every((v) => v === 3));
  assert.ok((await c.read()).every((v) => v === 100));
  for (const t of [b, s, c]) t.dispose();
});

test('pool reuse: allocate/free/allocate does not grow live or pooled bytes', async () => {
  const before = memoryStats();
  for (let i = 0; i < 20; i++) {
    const t = Tensor.empty([17, 31]);
    t.dispose();
  }
  const after = memoryStats();
  assert.is(after.liveBytes, before.liveBytes);
  assert.ok(after.misses - before.misses <= 1, `misses grew by ${after.misses - before.misses}`);
  assert.ok(after.hits - before.hits >= 19);
});

test('tidy disposes what it does not return; views keep storage alive', async () => {
  const before = memoryStats().liveBytes;
  const kept = tidy(() => {
    const a = Tensor.full([10], 1);
    const b = Tensor.full([10], 2);
    Tensor.full([10], 3);
    return add(a, b);
  });
  const live = memoryStats().liveBytes - before;
  assert.is(live, 256, `one 40-byte tensor (bucket 256) should stay live, got ${live} bytes`);
  const v = kept.view([2, 5]);
  kept.dispose();
  assert.equal(Array.from(await v.read()), new Array(10).fill(3));
  v.dispose();
  assert.is(memoryStats().liveBytes, before);
});

test('use after dispose names the tensor', () => {
  const t = Tensor.full([3], 1);
  t.name = 'weights';
  t.dispose();
  assert.throws(() => t.buffer, /tensor 'weights' \[3\] was used after dispose/);
});

test('shape errors are eager and give both shapes', () => {
  const a = Tensor.empty([2, 3]);
  const b = Tensor.empty([3, 2]);
  assert.throws(() => add(a, b), /add: shapes differ: \[2,3\] and \[3,2\]/);
  assert.throws(() => Tensor.from([1, 2, 3], [2, 2]), /data has 3 elements but shape \[2,2\] needs 4/);
  assert.throws(() => Tensor.empty([2, -1]), /invalid shape \[2,-1\]/);
  assert.throws(() => a.view([5]), /cannot view \[2,3\] \(6 elements\) as \[5\]/);
  a.dispose();
  b.dispose();
});

test.run();
