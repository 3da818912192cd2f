/** areaDownsample: GPU vs float64 reference, forward and backward, FD check, bad calls. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { randomF32Data, randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { areaDownsample } from '../../engine/ops/area_downsample.ts';
import { areaForward, areaBackward, type AreaShape } from '../../engine/reference/area_downsample.ts';
import { Tensor } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

// Factor 2 on odd H != W is not needed for a pyramid but happens: trailing rows/columns are
// dropped (9x7 by 3 -> 3x2); factor 1 (identity); the whole map to 1x1; planes above a workgroup.
const CASES: [[number, number, number, number], number][] = [
  [[1, 3, 8, 6], 2],
  [[2, 1, 9, 7], 3],
  [[1, 2, 5, 5], 1],
  [[1, 1, 4, 4], 4],
  [[2, 3, 64, 48], 8],
];

for (const [shape, factor] of CASES) {
  test(`areaDownsample forward+backward x=[${shape}] factor=${factor}`, async () => {
    const [n, c, h, w] = shape;
    const s: AreaShape = { n, c, h, w, factor };
    const size = n * c * h * w;
    const xData = randomF32Data(size, size);
    const x = leaf(xData, shape);
    const y = areaDownsample(x, factor);
    assert.equal(y.shape, [n, c, Math.floor(h / factor), Math.floor(w / factor)]);
    // A mean of factor^2 terms; the gradient is one division.
    assertClose(`areaDownsample forward x=[${shape}] f=${factor}`, await y.read(), areaForward(xData, s), TOL.forLength(factor * factor));
    const dout = randomData(size + 1, y.size);
    const [dx] = await gpuGrads(y, dout, [x]);
    assertClose(`areaDownsample backward x=[${shape}] f=${factor}`, dx!, areaBackward(dout, s), TOL.values);
    x.dispose();
    y.dispose();
  });
}

test('reference areaDownsample gradient vs finite differences x=[1,2,5,4] factor=2', () => {
  const s: AreaShape = { n: 1, c: 2, h: 5, w: 4, factor: 2 };
  const x = randomData(3, 40);
  const dout = randomData(4, 8);
  checkAgainstFiniteDifferences('areaDownsample ref grad vs FD', (v) => areaForward(v, s), x, dout, areaBackward(dout, s));
});

test('bad calls throw ShapeError naming areaDownsample and the shapes', () => {
  const x = Tensor.empty([1, 2, 3, 5]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => areaDownsample(x, 4), is(/areaDownsample: factor 4 is larger than the input \[1,2,3,5\]/));
  assert.throws(() => areaDownsample(x, 0), is(/areaDownsample: factor 0 for input \[1,2,3,5\] must be a whole number >= 1/));
  assert.throws(() => areaDownsample(x, 1.5), is(/areaDownsample: factor 1.5/));
  x.dispose();
});

test.run();
