/** scale: GPU vs float64 reference, forward and backward; FD check; bad calls. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { randomData, randomF32Data, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { scale } from '../../engine/ops/scale.ts';
import { scaleForward, scaleBackward } from '../../engine/reference/scale.ts';
import { Tensor, shapeSize } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

// Sizes that do not divide the workgroup or the 4 items per invocation, a single element, and
// more elements than one workgroup covers.
const SHAPES = [[1], [2, 3, 7, 5], [1031], [3, 1, 17, 19]];

// One float32 product per element: within an ulp of the float64 product of the same inputs, far
// inside the `values` preset.
for (const shape of SHAPES) {
  test(`scale forward+backward alpha=-2.5 x=[${shape}]`, async () => {
    const n = shapeSize(shape);
    const data = randomF32Data(3 + n, n);
    const dout = randomData(4 + n, n);
    const x = leaf(data, shape);
    const y = scale(x, -2.5);
    assertClose(`scale forward [${shape}]`, await y.read(), scaleForward(data, -2.5), TOL.values);
    const [dx] = await gpuGrads(y, dout, [x]);
    assertClose(`scale backward [${shape}]`, dx!, scaleBackward(dout, -2.5), TOL.values);
    x.dispose();
    y.dispose();
  });
}

test('reference scale gradient vs finite differences x=[6] alpha=0.7', () => {
  const x = randomData(5, 6);
  const dout = randomData(6, 6);
  checkAgainstFiniteDifferences('scale reference grad vs FD', (v) => scaleForward(v, 0.7), x, dout, scaleBackward(dout, 0.7));
});

test('bad calls throw ShapeError naming scale and the input', () => {
  const x = Tensor.from([1, 2], [2]);
  assert.throws(
    () => scale(x, NaN),
    (e: Error) => e instanceof ShapeError && /scale: factor NaN for input tensor\[2\] f32/.test(e.message),
  );
  const i = Tensor.from([1, 2], [2], 'i32');
  assert.throws(
    () => scale(i, 2),
    (e: Error) => e instanceof ShapeError && /scale: input tensor\[2\] i32 must be f32/.test(e.message),
  );
  x.dispose();
  i.dispose();
});

test.run();
