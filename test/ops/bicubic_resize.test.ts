// @smoke-gl
/** bicubicResize: GPU vs float64 reference, up/down/non-integer ratios, identity, FD check. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL, onGl } from '../helpers/gpu.ts';
import { randomF32Data, randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { bicubicResize } from '../../engine/ops/bicubic_resize.ts';
import { bicubicForward, bicubicBackward, bicubicTaps, type ResizeShape } from '../../engine/reference/bicubic_resize.ts';
import { Tensor } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

type Case = { x: [number, number, number, number]; out: [number, number] };
// Up along H and down along W with non-integer ratios (5->9, 7->4); exact 2x upsampling;
// non-integer downsampling (9->4, 10->3); from a 1x1 map; to a 1x1 map; planes larger than a
// workgroup with mixed ratios (40->71, 33->20); strong upsampling where many outputs clamp onto
// the edge inputs (3->40, 2->37); strong downsampling (100->7, 9->2); batch 1 and 2; channels 1, 2, 3.
const CASES: Case[] = onGl
  ? [
      { x: [1, 2, 5, 7], out: [9, 4] },
      { x: [1, 1, 9, 10], out: [4, 3] },
    ]
  : [
      { x: [1, 2, 5, 7], out: [9, 4] },
      { x: [2, 3, 8, 6], out: [16, 12] },
      { x: [1, 1, 9, 10], out: [4, 3] },
      { x: [1, 3, 1, 1], out: [3, 2] },
      { x: [1, 2, 7, 5], out: [1, 1] },
      { x: [1, 1, 40, 33], out: [71, 20] },
      { x: [1, 1, 3, 2], out: [40, 37] },
      { x: [1, 1, 100, 9], out: [7, 2] },
    ];

/**
 * 16 taps whose weights sum to 1 (some negative) are a short sum: the `values` preset. On top,
 * the float32 source coordinate (o + 0.5) * in/out - 0.5 is off by up to ~2 ulp of the input
 * length (in/out and the product are each rounded), ~2.4e-7 * max(H, W) pixels, and the
 * interpolant of data in [-1, 1] changes by at most ~5 per pixel (neighbours differ by up to 2,
 * the cubic's overshoot adds 25%, two axes).
 */
function forwardTol(c: Case) {
  const coordinateError = 2 * 1.2e-7 * Math.max(c.x[2], c.x[3]);
  return { atol: TOL.values.atol + 5 * coordinateError, rtol: TOL.values.rtol };
}

const shapeOf = (c: Case): ResizeShape => ({ n: c.x[0], c: c.x[1], h: c.x[2], w: c.x[3], oh: c.out[0], ow: c.out[1] });

for (const c of CASES) {
  test(`bicubicResize forward+backward x=[${c.x}] out=[${c.out}]`, async () => {
    const s = shapeOf(c);
    const size = c.x.reduce((a, b) => a * b, 1);
    const xData = randomF32Data(size, size);
    const x = leaf(xData, c.x);
    const y = bicubicResize(x, c.out);
    assertClose(`bicubicResize forward x=[${c.x}] out=[${c.out}]`, await y.read(), bicubicForward(xData, s), forwardTol(c));
    const dout = randomData(size + 1, y.size);
    const [dx] = await gpuGrads(y, dout, [x]);
    // An input gathers from up to (4 * out/in + 4) outputs per axis (more at clamped edges of a
    // strong upsampling): sums of tens to hundreds of terms, the `grads` preset.
    assertClose(`bicubicResize backward x=[${c.x}] out=[${c.out}]`, dx!, bicubicBackward(dout, s), TOL.grads);
    x.dispose();
    y.dispose();
  });
}

test('bicubicResize to the same size is the identity x=[2,1,6,5]', async () => {
  // s = o exactly, t = 0: weights (0, 1, 0, 0) whatever the reference says.
  const xData = randomF32Data(5, 60);
  const x = Tensor.from(xData, [2, 1, 6, 5]);
  const y = bicubicResize(x, [6, 5]);
  assert.equal(Array.from(await y.read()), Array.from(xData));
  x.dispose();
  y.dispose();
});

test('reference taps follow PyTorch: 4->8 output 0 samples s=-0.25 with clamped taps', () => {
  // s = (0 + 0.5) * 4/8 - 0.5 = -0.25: f = -1, t = 0.75; taps -2, -1, 0, 1 clamp to 0, 0, 0, 1.
  const taps = bicubicTaps(0, 4, 8);
  assert.equal(
    taps.map(([i]) => i),
    [0, 0, 0, 1],
  );
  const a = -0.75;
  const t = 0.75;
  const expected = [
    ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
    ((a + 2) * t - (a + 3)) * t * t + 1,
    ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
    ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a,
  ];
  assertClose(
    'bicubic taps 4->8 o=0',
    taps.map(([, w]) => w),
    expected,
    { atol: 1e-15, rtol: 0 },
  );
});

test('reference bicubicResize gradient vs finite differences x=[1,1,5,4] out=[7,3]', () => {
  const s: ResizeShape = { n: 1, c: 1, h: 5, w: 4, oh: 7, ow: 3 };
  const x = randomData(11, 20);
  const dout = randomData(12, 21);
  checkAgainstFiniteDifferences('bicubicResize ref grad vs FD', (v) => bicubicForward(v, s), x, dout, bicubicBackward(dout, s));
});

test('bad calls throw ShapeError naming bicubicResize and the shapes', () => {
  const x = Tensor.empty([1, 2, 3, 3]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(
    () => bicubicResize(x, [-2, 4]),
    is(/bicubicResize: output size \[-2,4\] for input \[1,2,3,3\] must be two whole numbers >= 1/),
  );
  assert.throws(() => bicubicResize(x, [2.5, 4]), is(/bicubicResize: output size \[2.5,4\]/));
  x.dispose();
});

test.run();
