/** adaptiveMaxPool2d: GPU vs float64 reference, overlapping bins, ties, FD check, bad calls. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { randomF32Data, randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { adaptiveMaxPool2d } from '../../engine/ops/adaptive_max_pool2d.ts';
import { adaptiveMaxPoolForward, adaptiveMaxPoolBackward, type AdaptiveShape } from '../../engine/reference/adaptive_pool2d.ts';
import { Tensor } from '../../engine/tensor.ts';
import { Rng } from '../../engine/random.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

type Case = { x: [number, number, number, number]; out: [number, number] };
// Overlapping bins (7->3, 5->3); the pixel loss's teacher-to-student shrink (16x12 -> 8x6, as
// the distillation uses it); global max of a 1x1 and a 30x20 map; more outputs than inputs;
// planes above a workgroup; batch 1; odd H != W.
const CASES: Case[] = [
  { x: [2, 3, 7, 5], out: [3, 3] },
  { x: [2, 4, 16, 12], out: [8, 6] },
  { x: [1, 4, 1, 1], out: [1, 1] },
  { x: [1, 2, 30, 20], out: [1, 1] },
  { x: [1, 3, 4, 5], out: [6, 7] },
  { x: [1, 2, 40, 33], out: [7, 5] },
];

for (const c of CASES) {
  test(`adaptiveMaxPool2d forward+backward x=[${c.x}] out=[${c.out}]`, async () => {
    const s: AdaptiveShape = { n: c.x[0], c: c.x[1], h: c.x[2], w: c.x[3], oh: c.out[0], ow: c.out[1] };
    const size = c.x.reduce((a, b) => a * b, 1);
    const xData = randomF32Data(size + 2, size);
    const x = leaf(xData, c.x);
    const y = adaptiveMaxPool2d(x, c.out);
    // A selection: exact. Gradients sum at most a few upstream values.
    assertClose(`adaptiveMaxPool2d forward x=[${c.x}] out=[${c.out}]`, await y.read(), adaptiveMaxPoolForward(xData, s).y, TOL.values);
    const dout = randomData(size + 3, y.size);
    const [dx] = await gpuGrads(y, dout, [x]);
    assertClose(`adaptiveMaxPool2d backward x=[${c.x}] out=[${c.out}]`, dx!, adaptiveMaxPoolBackward(xData, dout, s), TOL.values);
    x.dispose();
    y.dispose();
  });
}

test('adaptiveMaxPool2d ties go to the first maximum; overlapping bins both send gradient x=[1,1,5,1] out=[3,1]', async () => {
  // Bins [0,2) [1,4) [3,5) over rows; rows 1 and 2 hold the same maximum: bins 0 and 1 both
  // pick row 1 (the first); bin 2 picks row 4.
  const x = leaf([0, 9, 9, 1, 2], [1, 1, 5, 1]);
  const y = adaptiveMaxPool2d(x, [3, 1]);
  assert.equal(Array.from(await y.read()), [9, 9, 2]);
  const [dx] = await gpuGrads(y, [1, 10, 100], [x]);
  assert.equal(Array.from(dx!), [0, 11, 0, 0, 100]);
  x.dispose();
  y.dispose();
});

test('reference adaptiveMaxPool2d gradient vs finite differences x=[1,2,5,7] out=[3,3]', () => {
  const s: AdaptiveShape = { n: 1, c: 2, h: 5, w: 7, oh: 3, ow: 3 };
  // Distinct values spaced far more than the FD step, so no perturbation changes a choice.
  const x = Float64Array.from(new Rng(3).shuffle(Array.from({ length: 70 }, (_, i) => i * 0.01)));
  const dout = randomData(4, 18);
  checkAgainstFiniteDifferences(
    'adaptiveMaxPool2d ref grad vs FD',
    (v) => adaptiveMaxPoolForward(v, s).y,
    x,
    dout,
    adaptiveMaxPoolBackward(x, dout, s),
  );
});

test('bad calls throw ShapeError naming adaptiveMaxPool2d and the shapes', () => {
  const x = Tensor.empty([1, 2, 3, 3]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(
    () => adaptiveMaxPool2d(x, [-1, 2]),
    is(/adaptiveMaxPool2d: output size \[-1,2\] for input \[1,2,3,3\] must be two whole numbers >= 1/),
  );
  assert.throws(() => adaptiveMaxPool2d(x, [2, 0]), is(/adaptiveMaxPool2d: output size \[2,0\]/));
  x.dispose();
});

test.run();
