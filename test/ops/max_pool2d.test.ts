// @smoke-gl
/** maxPool2d: GPU vs float64 reference (forward, backward), ties, FD check, bad calls. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL, onGl } from '../helpers/gpu.ts';
import { randomF32Data, randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { maxPool2d } from '../../engine/ops/max_pool2d.ts';
import { maxPoolForward, maxPoolBackward, type MaxPoolShape } from '../../engine/reference/max_pool2d.ts';
import { Tensor } from '../../engine/tensor.ts';
import { Rng } from '../../engine/random.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

type Case = { x: [number, number, number, number]; kernel: [number, number]; stride: [number, number]; padding: [number, number] };
// The ResNet stem pool (3x3 s2 p1) on odd H != W; per-axis kernel/stride/padding; heavily
// overlapping windows (s1); 1x1 map and kernel; non-overlapping 2x2; planes larger than a workgroup.
// Backward gathers per 4x4 cell of inputs, storing vec4 rows when W % 4 == 0: cells cut by the
// bottom edge (H = 9, 6) on that path, and windows wider than a cell (k=5 s=1). The stem pool
// on rows of W % 8 == 0 runs the vec4 forward (4 outputs per invocation): W = 8 (one quad per
// row, its left column in the padding), 16 and 24 (quads inside the row), odd H.
const CASES: Case[] = [
  { x: [2, 3, 7, 5], kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
  { x: [1, 5, 9, 6], kernel: [3, 2], stride: [1, 2], padding: [1, 0] },
  { x: [1, 3, 9, 8], kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
  { x: [2, 3, 5, 16], kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
  ...(onGl
    ? []
    : ([
        { x: [1, 2, 5, 5], kernel: [3, 3], stride: [1, 1], padding: [1, 1] },
        { x: [1, 1, 1, 1], kernel: [1, 1], stride: [1, 1], padding: [0, 0] },
        { x: [2, 3, 4, 4], kernel: [2, 2], stride: [2, 2], padding: [0, 0] },
        { x: [1, 2, 40, 37], kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
        { x: [2, 2, 6, 12], kernel: [5, 5], stride: [1, 1], padding: [2, 2] },
        { x: [1, 2, 13, 10], kernel: [2, 3], stride: [3, 2], padding: [1, 1] },
        { x: [1, 2, 6, 24], kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
      ] as Case[])),
];

const name = (c: Case) => `x=[${c.x}] k=${c.kernel.join('x')} s=${c.stride.join(',')} p=${c.padding.join(',')}`;

// Forward is exact (a selection); each input's gradient is a sum of at most ceil(k/s)^2 upstream
// values, so the `values` preset covers it.
for (const c of CASES) {
  test(`maxPool2d forward+backward ${name(c)}`, async () => {
    const [n, ch, h, w] = c.x;
    const s: MaxPoolShape = { n, c: ch, h, w, kernel: c.kernel, stride: c.stride, padding: c.padding };
    const size = n * ch * h * w;
    const xData = randomF32Data(size, size);
    const x = leaf(xData, c.x);
    const y = maxPool2d(x, { kernel: c.kernel, stride: c.stride, padding: c.padding });
    const ref = maxPoolForward(xData, s);
    assertClose(`maxPool2d forward ${name(c)}`, await y.read(), ref.y, TOL.values);
    const dout = randomData(size + 1, y.size);
    const [dx] = await gpuGrads(y, dout, [x]);
    assertClose(`maxPool2d backward ${name(c)}`, dx!, maxPoolBackward(xData, dout, s), TOL.values);
    x.dispose();
    y.dispose();
  });
}

test('maxPool2d ties go to the first maximum in row-major order x=[1,1,4,5] k=3 s=1 p=1', async () => {
  // Blocks of equal values: every window sees ties. The reference takes strictly greater values
  // only, so its choice is the first maximum; the GPU must pick the same inputs.
  const xData = Float64Array.from({ length: 20 }, (_, i) => Math.floor(i / 7));
  const s: MaxPoolShape = { n: 1, c: 1, h: 4, w: 5, kernel: [3, 3], stride: [1, 1], padding: [1, 1] };
  const x = leaf(xData, [1, 1, 4, 5]);
  const y = maxPool2d(x, { kernel: 3, stride: 1, padding: 1 });
  const dout = randomData(99, 20);
  const [dx] = await gpuGrads(y, dout, [x]);
  assertClose('maxPool2d ties backward', dx!, maxPoolBackward(xData, dout, s), TOL.values);
  // Independent of the reference: with all values equal, the top-left window picks (0,0).
  const flat = leaf(new Float64Array(4).fill(3), [1, 1, 2, 2]);
  const pooled = maxPool2d(flat, { kernel: 2 });
  const [flatGrad] = await gpuGrads(pooled, [1], [flat]);
  assert.equal(Array.from(flatGrad!), [1, 0, 0, 0]);
  for (const t of [x, y, flat, pooled]) t.dispose();
});

test('maxPool2d ties on the vec4 stem-pool path x=[1,1,5,16] k=3 s=2 p=1', async () => {
  // Runs of equal values across the quads' vec4 boundaries: the first maximum in row-major
  // window order must win, as in the reference.
  const xData = Float64Array.from({ length: 80 }, (_, i) => Math.floor(i / 3) % 4);
  const s: MaxPoolShape = { n: 1, c: 1, h: 5, w: 16, kernel: [3, 3], stride: [2, 2], padding: [1, 1] };
  const x = leaf(xData, [1, 1, 5, 16]);
  const y = maxPool2d(x, { kernel: 3, stride: 2, padding: 1 });
  assertClose('maxPool2d vec4 ties forward', await y.read(), maxPoolForward(xData, s).y, TOL.values);
  const dout = randomData(98, y.size);
  const [dx] = await gpuGrads(y, dout, [x]);
  assertClose('maxPool2d vec4 ties backward', dx!, maxPoolBackward(xData, dout, s), TOL.values);
  for (const t of [x, y]) t.dispose();
});

for (const w of [4, 8]) {
  test(`maxPool2d padding acts as -infinity: all-negative input x=[1,2,3,${w}] k=3 s=2 p=1${w === 8 ? ' (vec4 path)' : ''}`, async () => {
    // Were padding zeros, every border window would output 0 instead of a negative input.
    const xData = randomF32Data(31, 6 * w, -3, -1);
    const s: MaxPoolShape = { n: 1, c: 2, h: 3, w, kernel: [3, 3], stride: [2, 2], padding: [1, 1] };
    const x = Tensor.from(xData, [1, 2, 3, w]);
    const y = maxPool2d(x, { kernel: 3, stride: 2, padding: 1 });
    const out = await y.read();
    assert.ok(
      out.every((v) => v < 0),
      'every output is one of the (negative) inputs',
    );
    assertClose('maxPool2d all-negative forward', out, maxPoolForward(xData, s).y, TOL.values);
    x.dispose();
    y.dispose();
  });
}

test('reference maxPool2d gradient vs finite differences x=[1,2,4,5] k=3 s=2 p=1', () => {
  const s: MaxPoolShape = { n: 1, c: 2, h: 4, w: 5, kernel: [3, 3], stride: [2, 2], padding: [1, 1] };
  // Distinct values spaced far more than the FD step, so no perturbation changes a choice.
  const x = Float64Array.from(new Rng(7).shuffle(Array.from({ length: 40 }, (_, i) => i * 0.01)));
  const dout = randomData(8, maxPoolForward(x, s).y.length);
  checkAgainstFiniteDifferences('maxPool2d ref grad vs FD', (v) => maxPoolForward(v, s).y, x, dout, maxPoolBackward(x, dout, s));
});

test('bad calls throw ShapeError naming maxPool2d and the shapes', () => {
  const x = Tensor.empty([1, 2, 3, 3]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(
    () => maxPool2d(x, { kernel: 4 }),
    is(/maxPool2d: kernel larger than the padded input \(input \[1,2,3,3\], kernel \[4,4\], stride \[4,4\], padding \[0,0\]\)/),
  );
  assert.throws(() => maxPool2d(x, { kernel: 2, padding: 2 }), is(/maxPool2d: padding must be at most half the kernel size/));
  assert.throws(
    () => maxPool2d(x, { kernel: 2, padding: -1 }),
    is(/maxPool2d: padding -1 must be a whole number >= 0 or a pair \[h, w\] of them \(input \[1,2,3,3\]\)/),
  );
  assert.throws(
    () => maxPool2d(x, { kernel: 2, stride: 0 }),
    is(/maxPool2d: stride 0 must be a whole number >= 1 .*\(input \[1,2,3,3\]\)/),
  );
  x.dispose();
});

test.run();
