/** sum and mean over axes: GPU vs float64 reference, forward and backward, FD check, bad calls. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { sum, mean } from '../../engine/ops/reduce.ts';
import { sumForward, sumBackward } from '../../engine/reference/reduce.ts';
import { Tensor, shapeSize } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

type Case = { shape: number[]; axes?: number[]; keepDims: boolean; expectShape: number[] };
// One axis in the middle; the batch-norm pattern [0, 2, 3] (two passes: H*W, then N); all axes;
// a negative axis; long reductions (a workgroup per output) with and without an inner stride;
// a single element; keepDims.
const CASES: Case[] = [
  { shape: [2, 3, 4, 5], axes: [1], keepDims: false, expectShape: [2, 4, 5] },
  { shape: [2, 3, 5, 7], axes: [0, 2, 3], keepDims: true, expectShape: [1, 3, 1, 1] },
  { shape: [2, 3, 5, 7], axes: [0, 2, 3], keepDims: false, expectShape: [3] },
  { shape: [3, 1, 7], keepDims: false, expectShape: [1] },
  { shape: [3, 1, 7], keepDims: true, expectShape: [1, 1, 1] },
  { shape: [4, 9], axes: [-1], keepDims: false, expectShape: [4] },
  { shape: [1031], axes: [0], keepDims: false, expectShape: [1] },
  { shape: [300, 3], axes: [0], keepDims: false, expectShape: [3] },
  { shape: [3, 300, 2], axes: [1], keepDims: true, expectShape: [3, 1, 2] },
  { shape: [1], keepDims: false, expectShape: [1] },
];

const name = (c: Case) => `x=[${c.shape}] axes=${c.axes ? `[${c.axes}]` : 'all'}${c.keepDims ? ' keepDims' : ''}`;

for (const c of CASES) {
  for (const op of ['sum', 'mean'] as const) {
    test(`${op} forward+backward ${name(c)}`, async () => {
      const n = shapeSize(c.shape);
      const axes = (c.axes ?? c.shape.map((_, i) => i)).map((a) => (a < 0 ? a + c.shape.length : a));
      const count = axes.reduce((acc, a) => acc * c.shape[a], 1);
      const xData = randomData(n, n);
      const x = leaf(xData, c.shape);
      const y = (op === 'sum' ? sum : mean)(x, c.axes, c.keepDims);
      assert.equal(y.shape, c.expectShape);
      // Sums of `count` terms of size <= 1.
      assertClose(`${op} forward ${name(c)}`, await y.read(), sumForward(xData, c.shape, axes, op === 'mean'), TOL.forLength(count));
      const dout = randomData(n + 1, y.size);
      const [dx] = await gpuGrads(y, dout, [x]);
      assertClose(`${op} backward ${name(c)}`, dx!, sumBackward(dout, c.shape, axes, op === 'mean'), TOL.values);
      x.dispose();
      y.dispose();
    });
  }
}

test('reference sum/mean gradients vs finite differences x=[2,3,4] axes=[0,2]', () => {
  const x = randomData(5, 24);
  const dout = randomData(6, 3);
  checkAgainstFiniteDifferences('sum ref grad vs FD', (v) => sumForward(v, [2, 3, 4], [0, 2]), x, dout, sumBackward(dout, [2, 3, 4], [0, 2]));
  checkAgainstFiniteDifferences('mean ref grad vs FD', (v) => sumForward(v, [2, 3, 4], [0, 2], true), x, dout, sumBackward(dout, [2, 3, 4], [0, 2], true));
});

test('bad calls throw ShapeError naming the op and the shapes', () => {
  const x = Tensor.empty([2, 3]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => sum(x, [2]), is(/sum: axes \[2\] of input \[2,3\]: axis 2 is out of range for rank 2/));
  assert.throws(() => mean(x, [1, -1]), is(/mean: axes \[1,-1\] of input \[2,3\]: axis -1 is given twice/));
  assert.throws(() => sum(x, []), is(/sum: axes \[\] of input \[2,3\]: give at least one axis/));
  x.dispose();
});

test.run();
