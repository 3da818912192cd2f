// @smoke-gl
/** relu: GPU vs float64 reference, forward and backward; gradient at exactly 0; bad calls. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { randomData, randomF32Data, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { relu } from '../../engine/ops/relu.ts';
import { reluForward, reluBackward } from '../../engine/reference/relu.ts';
import { Tensor, shapeSize } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

// Sizes that do not divide the workgroup (256) or the 4 items per invocation, a single element,
// and more elements than one workgroup covers (257 * 4 + 3). Sizes divisible by 4 run the vec4
// entry points: 4 elements, 2 * 4 * 257 * 4 (more vec4s than one workgroup covers), and 3*4*5*7.
const SHAPES = [[1], [2, 3, 7, 5], [1, 1, 1, 1], [1031], [3, 1, 17, 19], [4], [2, 4, 257, 4], [3, 4, 5, 7]];

// relu is exact in float32 (a comparison): the `values` preset against the float64 reference
// of the same float32 inputs leaves wide room.
for (const shape of SHAPES) {
  test(`relu forward+backward x=[${shape}]`, async () => {
    const n = shapeSize(shape);
    const data = randomF32Data(1 + n, n);
    const dout = randomData(2 + n, n);
    const x = leaf(data, shape);
    const y = relu(x);
    assertClose(`relu forward [${shape}]`, await y.read(), reluForward(data), TOL.values);
    const [dx] = await gpuGrads(y, dout, [x]);
    assertClose(`relu backward [${shape}]`, dx!, reluBackward(data, dout), TOL.values);
    x.dispose();
    y.dispose();
  });
}

test('relu gradient at exactly 0 is 0, and negative inputs get 0', async () => {
  const x = leaf([0, -0, 1, -1, 0], [5]);
  const y = relu(x);
  const [dx] = await gpuGrads(y, [7, 7, 7, 7, 7], [x]);
  assert.equal(Array.from(dx!), [0, 0, 7, 0, 0]);
  x.dispose();
  y.dispose();
});

test('reference relu gradient vs finite differences x=[6] away from 0', () => {
  // Keep |x| >= 0.1 so the central difference with h = 1e-6 never straddles the kink.
  const x = randomData(5, 6).map((v) => (v >= 0 ? v + 0.1 : v - 0.1));
  const dout = randomData(6, 6);
  checkAgainstFiniteDifferences('relu reference grad vs FD', reluForward, x, dout, reluBackward(x, dout));
});

test('bad calls throw ShapeError naming relu and the input', () => {
  const i = Tensor.from([1, 2], [2], 'i32');
  assert.throws(
    () => relu(i),
    (e: Error) => e instanceof ShapeError && /relu: input tensor\[2\] i32 must be f32/.test(e.message),
  );
  i.dispose();
});

test.run();
