// @smoke-gl
/** adaptiveAvgPool2d: GPU vs float64 reference, overlapping bins, global pooling, FD check. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL, onGl } from '../helpers/gpu.ts';
import { randomF32Data, randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { adaptiveAvgPool2d } from '../../engine/ops/adaptive_avg_pool2d.ts';
import { adaptiveAvgPoolForward, adaptiveAvgPoolBackward, binOf, type AdaptiveShape } from '../../engine/reference/adaptive_pool2d.ts';
import { Tensor } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

type Case = { x: [number, number, number, number]; out: [number, number] };
// Overlapping bins (7->3, 5->3), unequal bins (7->2), global pooling (->1x1) of a small map, of
// a 1x1 map, of an 8x8 map (64 elements: one invocation per output) and of a 30x20 map (600: a
// workgroup per output), more outputs than inputs (4->6, 5->7), planes above a workgroup,
// batch 1, odd H != W.
const CASES: Case[] = onGl
  ? [
      { x: [2, 3, 7, 5], out: [3, 3] },
      { x: [1, 2, 30, 20], out: [1, 1] },
    ]
  : [
      { x: [2, 3, 7, 5], out: [3, 3] },
      { x: [1, 5, 5, 7], out: [3, 2] },
      { x: [2, 3, 6, 4], out: [1, 1] },
      { x: [1, 4, 1, 1], out: [1, 1] },
      { x: [2, 3, 8, 8], out: [1, 1] },
      { x: [1, 2, 30, 20], out: [1, 1] },
      { x: [1, 3, 4, 5], out: [6, 7] },
      { x: [1, 2, 40, 33], out: [7, 5] },
    ];

for (const c of CASES) {
  test(`adaptiveAvgPool2d forward+backward x=[${c.x}] out=[${c.out}]`, async () => {
    const s: AdaptiveShape = { n: c.x[0], c: c.x[1], h: c.x[2], w: c.x[3], oh: c.out[0], ow: c.out[1] };
    const size = c.x.reduce((a, b) => a * b, 1);
    const xData = randomF32Data(size, size);
    const x = leaf(xData, c.x);
    const y = adaptiveAvgPool2d(x, c.out);
    // Each output is the mean of one bin of at most (ceil(H/OH) + 1) * (ceil(W/OW) + 1) terms;
    // each input gradient sums dy / bin size over at most a few bins.
    const largestBin = (Math.ceil(s.h / s.oh) + 1) * (Math.ceil(s.w / s.ow) + 1);
    assertClose(
      `adaptiveAvgPool2d forward x=[${c.x}] out=[${c.out}]`,
      await y.read(),
      adaptiveAvgPoolForward(xData, s),
      TOL.forLength(largestBin),
    );
    const dout = randomData(size + 1, y.size);
    const [dx] = await gpuGrads(y, dout, [x]);
    assertClose(`adaptiveAvgPool2d backward x=[${c.x}] out=[${c.out}]`, dx!, adaptiveAvgPoolBackward(dout, s), TOL.values);
    x.dispose();
    y.dispose();
  });
}

test('reference bins follow PyTorch: 7->3 is [0,3) [2,5) [4,7); 5->3 is [0,2) [1,4) [3,5)', () => {
  assert.equal(
    [0, 1, 2].map((i) => binOf(i, 7, 3)),
    [
      [0, 3],
      [2, 5],
      [4, 7],
    ],
  );
  assert.equal(
    [0, 1, 2].map((i) => binOf(i, 5, 3)),
    [
      [0, 2],
      [1, 4],
      [3, 5],
    ],
  );
});

test('adaptiveAvgPool2d overlapping bins divide by their own size and both send gradient x=[1,1,5,1] out=[3,1]', async () => {
  // Bins [0,2) [1,4) [3,5) over rows: means of 2, 3 and 2 values; rows 1 and 3 sit in two bins.
  const x = leaf([1, 2, 3, 4, 5], [1, 1, 5, 1]);
  const y = adaptiveAvgPool2d(x, [3, 1]);
  assertClose('adaptiveAvgPool2d overlapping bins', await y.read(), [1.5, 3, 4.5], TOL.values);
  const [dx] = await gpuGrads(y, [6, 12, 18], [x]);
  assertClose('adaptiveAvgPool2d overlapping bins grad', dx!, [3, 3 + 4, 4, 4 + 9, 9], TOL.values);
  x.dispose();
  y.dispose();
});

test('reference adaptiveAvgPool2d gradient vs finite differences x=[1,2,5,7] out=[3,3]', () => {
  const s: AdaptiveShape = { n: 1, c: 2, h: 5, w: 7, oh: 3, ow: 3 };
  const x = randomData(3, 70);
  const dout = randomData(4, 18);
  checkAgainstFiniteDifferences(
    'adaptiveAvgPool2d ref grad vs FD',
    (v) => adaptiveAvgPoolForward(v, s),
    x,
    dout,
    adaptiveAvgPoolBackward(dout, s),
  );
});

test('bad calls throw ShapeError naming adaptiveAvgPool2d and the shapes', () => {
  const x = Tensor.empty([1, 2, 3, 3]);
  const flat = Tensor.empty([2, 9]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(
    () => adaptiveAvgPool2d(x, [0, 2]),
    is(/adaptiveAvgPool2d: output size \[0,2\] for input \[1,2,3,3\] must be two whole numbers >= 1/),
  );
  assert.throws(() => adaptiveAvgPool2d(x, [-1, 2]), is(/adaptiveAvgPool2d: output size \[-1,2\] for input \[1,2,3,3\]/));
  assert.throws(() => adaptiveAvgPool2d(flat, [1, 1]), is(/adaptiveAvgPool2d: input \[2,9\] must be 4-D/));
  x.dispose();
  flat.dispose();
});

test.run();
