// @smoke-gl
/** groupNorm: GPU vs float64 reference over awkward shapes, forward and backward; FD check. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL, onGl, type Tol } from '../helpers/gpu.ts';
import { randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { groupNorm } from '../../engine/ops/group_norm.ts';
import { groupNormForward, groupNormBackward, type GroupNormShape } from '../../engine/reference/group_norm.ts';
import { Tensor } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

// [N, C, H, W, groups]: channels not a multiple of 4 (C=6, G=3), one channel per group (C=32,
// G=32), 1x1 maps (including a single element per group, variance 0), odd H != W, batch 1, and
// a group block (2 * 33 * 17 = 1122 elements) longer than a workgroup. Maps with H*W % 4 == 0
// run the vec4 kernels (norm/group_norm_vec4.wgsl): a 2x2 map, a 4x5 map with C not a multiple of 4,
// 4x6, a 64x64 block (4096 elements: the longest reduced by one invocation) next to 1x4 maps,
// and a 64x72 map in a 2-channel block (9216 elements: reduced by a workgroup).
const CASES: [number, number, number, number, number][] = onGl
  ? [
      [2, 6, 5, 7, 3],
      [1, 32, 3, 5, 32],
      [2, 6, 4, 5, 3],
    ]
  : [
      [2, 6, 5, 7, 3],
      [1, 32, 3, 5, 32],
      [1, 4, 1, 1, 2],
      [2, 6, 1, 1, 6],
      [2, 8, 33, 17, 4],
      [3, 5, 4, 6, 1],
      [1, 4, 2, 2, 2],
      [2, 6, 4, 5, 3],
      [1, 2, 64, 64, 2],
      [3, 12, 1, 4, 4],
      [1, 2, 64, 72, 1],
    ];

/** The largest 1 / sqrt(var + eps) over the (sample, group) blocks of x. */
function maxInvStd(x: Float64Array, s: GroupNormShape): number {
  const len = (s.c / s.groups) * s.h * s.w;
  let worst = 0;
  for (let b = 0; b < x.length / len; b++) {
    const block = x.subarray(b * len, (b + 1) * len);
    const mean = block.reduce((a, v) => a + v, 0) / len;
    const variance = block.reduce((a, v) => a + (v - mean) ** 2, 0) / len;
    worst = Math.max(worst, 1 / Math.sqrt(variance + s.eps));
  }
  return worst;
}

const scaled = (t: Tol, k: number): Tol => ({ atol: t.atol * k, rtol: t.rtol * k });

for (const [n, c, h, w, groups] of CASES) {
  test(`groupNorm forward+backward x=[${n},${c},${h},${w}] groups=${groups}`, async () => {
    const s: GroupNormShape = { n, c, h, w, groups, eps: 1e-5 };
    const size = n * c * h * w;
    // An offset and spread unlike N(0,1), so subtracting the mean and dividing by the std matter.
    const xData = randomData(size, size, -2, 3);
    const wData = randomData(c + 1, c, 0.5, 1.5);
    const bData = randomData(c + 2, c);
    const dout = randomData(size + 3, size);
    const x = leaf(xData, [n, c, h, w]);
    const weight = leaf(wData, [c]);
    const bias = leaf(bData, [c]);
    const y = groupNorm(x, weight, bias, groups);
    // Each output depends on sums over its block of L = C/G*H*W elements; dweight and dbias
    // sum over N*H*W. Float32 rounding grows with those lengths.
    const blockLen = (c / groups) * h * w;
    const tolValues = TOL.forLength(blockLen);
    assertClose(`groupNorm forward [${n},${c},${h},${w}] G=${groups}`, await y.read(), groupNormForward(xData, wData, bData, s), tolValues);
    const [dx, dw, db] = await gpuGrads(y, dout, [x, weight, bias]);
    const ref = groupNormBackward(xData, wData, dout, s);
    // dx = invstd * (g - mean(g) - xhat * mean(g * xhat)): the reductions' rounding is scaled by
    // invstd, so the bound is forLength's times the largest invstd of any group (>= 1).
    const tolGrads = scaled(TOL.forLength(Math.max(blockLen, n * h * w)), Math.max(1, maxInvStd(xData, s)));
    assertClose(`groupNorm dx [${n},${c},${h},${w}] G=${groups}`, dx!, ref.dx, tolGrads);
    assertClose(`groupNorm dweight [${n},${c},${h},${w}] G=${groups}`, dw!, ref.dweight, tolGrads);
    assertClose(`groupNorm dbias [${n},${c},${h},${w}] G=${groups}`, db!, ref.dbias, tolGrads);
    for (const t of [x, weight, bias, y]) t.dispose();
  });
}

test('groupNorm of values far from zero (mean 100, spread 0.5) x=[2,6,4,8] groups=3', async () => {
  // The vec4 forward gathers mean and squared deviations in one pass; this checks that it does
  // not lose the variance to cancellation when the mean is large against the spread.
  const s: GroupNormShape = { n: 2, c: 6, h: 4, w: 8, groups: 3, eps: 1e-5 };
  const size = 2 * 6 * 4 * 8;
  // Rounded to f32 first, so the reference sees the very inputs the kernel does (at 100 the
  // rounding alone moves an element by ~3e-5 of the spread).
  const xData = Float64Array.from(Float32Array.from(randomData(31, size, 100, 100.5)));
  const wData = randomData(32, 6, 0.5, 1.5);
  const bData = randomData(33, 6);
  const x = leaf(xData, [2, 6, 4, 8]);
  const weight = leaf(wData, [6]);
  const bias = leaf(bData, [6]);
  const y = groupNorm(x, weight, bias, 3);
  // The vec4 forward takes deviations from the slab's first element (exact here), so its mean
  // keeps the digits that rounding a mean near 100 to f32 loses (~4e-5 in y: what the scalar
  // kernel's x - mean shows on this case).
  assertClose('groupNorm forward, mean 100 [2,6,4,8] G=3', await y.read(), groupNormForward(xData, wData, bData, s), TOL.forLength(128));
  for (const t of [x, weight, bias, y]) t.dispose();
});

test('groupNorm computes only the gradients required (weight and bias frozen)', async () => {
  const s: GroupNormShape = { n: 1, c: 6, h: 3, w: 2, groups: 3, eps: 1e-5 };
  const xData = randomData(11, 36);
  const dout = randomData(12, 36);
  const x = leaf(xData, [1, 6, 3, 2]);
  const weight = Tensor.full([6], 1.5);
  const bias = Tensor.full([6], 0);
  const y = groupNorm(x, weight, bias, 3);
  const [dx, dw, db] = await gpuGrads(y, dout, [x, weight, bias]);
  assert.is(dw, null);
  assert.is(db, null);
  assertClose('groupNorm dx, frozen affine', dx!, groupNormBackward(xData, new Float64Array(6).fill(1.5), dout, s).dx, TOL.forLength(6));
  for (const t of [x, weight, bias, y]) t.dispose();
});

test('reference groupNorm gradients vs finite differences x=[2,4,2,3] groups=2', () => {
  const s: GroupNormShape = { n: 2, c: 4, h: 2, w: 3, groups: 2, eps: 1e-5 };
  const x = randomData(21, 48, -1, 2);
  const weight = randomData(22, 4, 0.5, 1.5);
  const bias = randomData(23, 4);
  const dout = randomData(24, 48);
  const ref = groupNormBackward(x, weight, dout, s);
  checkAgainstFiniteDifferences('groupNorm ref dx vs FD', (v) => groupNormForward(v, weight, bias, s), x, dout, ref.dx);
  checkAgainstFiniteDifferences('groupNorm ref dweight vs FD', (v) => groupNormForward(x, v, bias, s), weight, dout, ref.dweight);
  checkAgainstFiniteDifferences('groupNorm ref dbias vs FD', (v) => groupNormForward(x, weight, v, s), bias, dout, ref.dbias);
});

test('bad calls throw ShapeError naming groupNorm and the shapes', () => {
  const x = Tensor.empty([1, 6, 2, 2]);
  const w6 = Tensor.empty([6]);
  const w4 = Tensor.empty([4]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(
    () => groupNorm(x, w6, w6, 4),
    is(/groupNorm: groups must be .* divides the channel count \(x \[1,6,2,2\], weight \[6\], bias \[6\], groups 4\)/),
  );
  assert.throws(() => groupNorm(x, w4, w6, 3), is(/groupNorm: weight must be f32 \[C\] = \[6\] \(x \[1,6,2,2\], weight \[4\]/));
  assert.throws(() => groupNorm(w6, w6, w6, 1), is(/groupNorm: input \[6\] must be 4-D/));
  for (const t of [x, w6, w4]) t.dispose();
});

test.run();
