/** add and accumulate: GPU vs float64 sums over sizes that take the f32 and the vec4 entry points. */
import { test } from 'uvu';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { randomData, randomF32Data } from '../helpers/op_check.ts';
import { add } from '../../engine/ops/add.ts';
import { accumulate } from '../../engine/accumulate.ts';
import { Tensor, shapeSize } from '../../engine/tensor.ts';

test.before(async () => {
  await gpu();
});

// Sizes not divisible by 4 (f32 entry points: 1, 7, 3*5*17) and divisible by 4 (vec4 entry
// points: 4, 2*2*4*4, and 4*257*3 = more vec4s than one workgroup of 256 covers).
const SHAPES = [[1], [7], [3, 5, 17], [4], [2, 2, 4, 4], [4, 257, 3]];

// The reference is the float64 sum of the same float32 inputs (one rounding apart).
for (const shape of SHAPES) {
  test(`add and accumulate x=[${shape}]`, async () => {
    const n = shapeSize(shape);
    const aData = randomF32Data(3 + n, n);
    const bData = randomF32Data(4 + n, n);
    const a = Tensor.from(aData, shape);
    const b = Tensor.from(bData, shape);
    const sum = Float64Array.from(aData, (v, i) => v + bData[i]);
    const out = add(a, b);
    assertClose(`add [${shape}]`, await out.read(), sum, TOL.values);
    accumulate(a, b);
    assertClose(`accumulate [${shape}]`, await a.read(), sum, TOL.values);
    for (const t of [a, b, out]) t.dispose();
  });
}

test('accumulate twice x=[2,8]: acc = a + 2b', async () => {
  const aData = randomData(5, 16);
  const bData = randomData(6, 16);
  const a = Tensor.from(aData, [2, 8]);
  const b = Tensor.from(bData, [2, 8]);
  accumulate(a, b);
  accumulate(a, b);
  assertClose(
    'accumulate twice [2,8]',
    await a.read(),
    Float64Array.from(aData, (v, i) => v + 2 * bData[i]),
    TOL.values,
  );
  for (const t of [a, b]) t.dispose();
});

test.run();
