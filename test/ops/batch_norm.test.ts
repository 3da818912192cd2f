/** batchNorm: training and eval, GPU vs float64 reference, running statistics, FD check, bad calls. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { batchNorm } from '../../engine/ops/batch_norm.ts';
import { batchNormForward, batchNormBackward, type BatchNormShape } from '../../engine/reference/batch_norm.ts';
import { noGrad } from '../../engine/autograd.ts';
import { Tensor } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

// Odd H != W; batch 1; 1x1 maps with a batch of 4 (M = 4); channels not a multiple of 4; a
// channel of 2 * 17 * 19 = 646 elements, longer than a workgroup.
const CASES: [number, number, number, number][] = [
  [2, 3, 5, 7],
  [1, 5, 1, 3],
  [4, 6, 1, 1],
  [2, 4, 17, 19],
];

for (const [n, c, h, w] of CASES) {
  for (const training of [true, false]) {
    test(`batchNorm ${training ? 'training' : 'eval'} forward+backward+running stats x=[${n},${c},${h},${w}]`, async () => {
      const s: BatchNormShape = { n, c, h, w, eps: 1e-5, momentum: 0.1, training };
      const size = n * c * h * w;
      const xData = randomData(size, size, -2, 3);
      const wData = randomData(c + 1, c, 0.5, 1.5);
      const bData = randomData(c + 2, c);
      const rmData = randomData(c + 3, c);
      const rvData = randomData(c + 4, c, 0.5, 2);
      const dout = randomData(size + 5, size);
      const x = leaf(xData, [n, c, h, w]);
      const weight = leaf(wData, [c]);
      const bias = leaf(bData, [c]);
      const runningMean = Tensor.from(rmData, [c]);
      const runningVar = Tensor.from(rvData, [c]);
      const y = batchNorm(x, weight, bias, runningMean, runningVar, { training });
      const ref = batchNormForward(xData, wData, bData, rmData, rvData, s);
      // Statistics sum over M = N*H*W elements per channel.
      const tol = TOL.forLength(n * h * w);
      const label = `batchNorm ${training ? 'train' : 'eval'} [${n},${c},${h},${w}]`;
      assertClose(`${label} forward`, await y.read(), ref.y, tol);
      assertClose(`${label} running_mean`, await runningMean.read(), ref.runningMean, tol);
      assertClose(`${label} running_var`, await runningVar.read(), ref.runningVar, tol);
      const [dx, dw, db] = await gpuGrads(y, dout, [x, weight, bias]);
      const grads = batchNormBackward(xData, wData, rmData, rvData, dout, s);
      assertClose(`${label} dx`, dx!, grads.dx, tol);
      assertClose(`${label} dweight`, dw!, grads.dweight, tol);
      assertClose(`${label} dbias`, db!, grads.dbias, tol);
      for (const t of [x, weight, bias, runningMean, runningVar, y]) t.dispose();
    });
  }
}

test('batchNorm training updates running statistics under noGrad too, twice in a row x=[3,2,2,3]', async () => {
  const s: BatchNormShape = { n: 3, c: 2, h: 2, w: 3, eps: 1e-5, momentum: 0.3, training: true };
  const xData = randomData(41, 36, -1, 4);
  const x = Tensor.from(xData, [3, 2, 2, 3]);
  const weight = Tensor.full([2], 1);
  const bias = Tensor.full([2], 0);
  const runningMean = Tensor.full([2], 0);
  const runningVar = Tensor.full([2], 1);
  noGrad(() => {
    batchNorm(x, weight, bias, runningMean, runningVar, { training: true, momentum: 0.3 }).dispose();
    batchNorm(x, weight, bias, runningMean, runningVar, { training: true, momentum: 0.3 }).dispose();
  });
  const once = batchNormForward(
    xData,
    new Float64Array([1, 1]),
    new Float64Array(2),
    new Float64Array([0, 0]),
    new Float64Array([1, 1]),
    s,
  );
  const twice = batchNormForward(xData, new Float64Array([1, 1]), new Float64Array(2), once.runningMean, once.runningVar, s);
  assertClose('batchNorm running_mean after 2 steps', await runningMean.read(), twice.runningMean, TOL.forLength(18));
  assertClose('batchNorm running_var after 2 steps', await runningVar.read(), twice.runningVar, TOL.forLength(18));
  for (const t of [x, weight, bias, runningMean, runningVar]) t.dispose();
});

test('reference batchNorm gradients vs finite differences x=[2,3,2,2], training and eval', () => {
  for (const training of [true, false]) {
    const s: BatchNormShape = { n: 2, c: 3, h: 2, w: 2, eps: 1e-5, momentum: 0.1, training };
    const x = randomData(51, 24, -1, 2);
    const weight = randomData(52, 3, 0.5, 1.5);
    const bias = randomData(53, 3);
    const rm = randomData(54, 3);
    const rv = randomData(55, 3, 0.5, 2);
    const dout = randomData(56, 24);
    const ref = batchNormBackward(x, weight, rm, rv, dout, s);
    const mode = training ? 'train' : 'eval';
    checkAgainstFiniteDifferences(`batchNorm ${mode} ref dx vs FD`, (v) => batchNormForward(v, weight, bias, rm, rv, s).y, x, dout, ref.dx);
    checkAgainstFiniteDifferences(
      `batchNorm ${mode} ref dweight vs FD`,
      (v) => batchNormForward(x, v, bias, rm, rv, s).y,
      weight,
      dout,
      ref.dweight,
    );
    checkAgainstFiniteDifferences(
      `batchNorm ${mode} ref dbias vs FD`,
      (v) => batchNormForward(x, weight, v, rm, rv, s).y,
      bias,
      dout,
      ref.dbias,
    );
  }
});

test('bad calls throw ShapeError naming batchNorm and the shapes', () => {
  const x = Tensor.empty([1, 3, 1, 1]);
  const p3 = Tensor.empty([3]);
  const p2 = Tensor.empty([2]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(
    () => batchNorm(x, p3, p3, p3, p3, { training: true }),
    is(/batchNorm: training needs more than 1 value per channel .* N\*H\*W = 1 \(x \[1,3,1,1\], weight \[3\]/),
  );
  assert.throws(
    () => batchNorm(x, p3, p2, p3, p3, { training: false }),
    is(/batchNorm: bias must be f32 \[C\] = \[3\] \(x \[1,3,1,1\], weight \[3\], bias \[2\]/),
  );
  assert.throws(() => batchNorm(x, p3, p3, p3, p3, { training: false, momentum: 2 }), is(/batchNorm: momentum 2 must be in \[0, 1\]/));
  for (const t of [x, p3, p2]) t.dispose();
});

test.run();
