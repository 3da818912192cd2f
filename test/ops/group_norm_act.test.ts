// @smoke-gl
/**
 * groupNormRelu (y = relu(groupNorm(x) + residual)): GPU vs float64 reference over awkward
 * shapes, with and without the residual, forward and backward; reference gradients vs finite
 * differences; frozen inputs; bad calls.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL, onGl, type Tol } from '../helpers/gpu.ts';
import { randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { groupNormRelu } from '../../engine/ops/group_norm_act.ts';
import { groupNormForward, type GroupNormShape } from '../../engine/reference/group_norm.ts';
import { groupNormReluForward, groupNormReluBackward } from '../../engine/reference/group_norm_act.ts';
import { Tensor } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

// [N, C, H, W, groups, residual]. Scalar kernels (H*W % 4 != 0): odd H != W with batch 3 and
// C = 6 (not a multiple of 4), one channel per group (groups = C = 5), one group, 1x1 maps, a
// 2 * 33 * 17 block (workgroup reduction). Vec4 kernels (H*W % 4 == 0): a 4x5 map with
// groups = C = 6, a 1x4 map with batch 3, a 64x64 block (4096 elements: the longest reduced by one
// invocation) and a 64x72 map in a one-group block of 9216 elements (reduced by a workgroup).
type Case = [number, number, number, number, number, boolean];
const CASES: Case[] = onGl
  ? [
      [3, 6, 5, 7, 3, true],
      [1, 5, 3, 3, 5, false],
      [3, 6, 4, 5, 6, true],
    ]
  : [
      [3, 6, 5, 7, 3, true],
      [1, 5, 3, 3, 5, false],
      [1, 5, 3, 3, 1, true],
      [2, 4, 1, 1, 2, true],
      [2, 8, 33, 17, 4, false],
      [3, 6, 4, 5, 6, true],
      [3, 6, 4, 5, 6, false],
      [3, 12, 1, 4, 4, true],
      [1, 2, 64, 64, 2, false],
      [1, 2, 64, 72, 1, true],
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

/** The smallest |pre-activation| (groupNorm(x) + residual): how far the data is from the ReLU's kink. */
function kinkMargin(x: Float64Array, w: Float64Array, b: Float64Array, r: Float64Array | null, s: GroupNormShape): number {
  const v = groupNormForward(x, w, b, s);
  return v.reduce((m, e, i) => Math.min(m, Math.abs(e + (r ? r[i] : 0))), Infinity);
}

/**
 * The residual r moved by 2e-3 where groupNorm(x) + r lies within 1e-3 of the ReLU's kink (at
 * 9216 elements a random draw puts some within 1e-5): there the mask could differ between float32
 * and float64, and a gradient test would compare two valid one-sided derivatives.
 */
function awayFromKink(r: Float64Array, normalized: Float64Array): Float64Array {
  return r.map((v, i) => (Math.abs(normalized[i] + v) < 1e-3 ? v + (normalized[i] + v >= 0 ? 2e-3 : -2e-3) : v));
}

const scaled = (t: Tol, k: number): Tol => ({ atol: t.atol * k, rtol: t.rtol * k });

for (const [n, c, h, w, groups, withResidual] of CASES) {
  const label = `[${n},${c},${h},${w}] G=${groups}${withResidual ? ' +residual' : ''}`;
  test(`groupNormRelu forward+backward x=${label}`, async () => {
    const s: GroupNormShape = { n, c, h, w, groups, eps: 1e-5 };
    const size = n * c * h * w;
    const xData = randomData(size, size, -2, 3);
    const wData = randomData(c + 1, c, 0.5, 1.5);
    const bData = randomData(c + 2, c, -0.5, 0.5);
    const rData = withResidual
      ? awayFromKink(randomData(size + 5, size), groupNormForward(xData, wData, bData, { n, c, h, w, groups, eps: 1e-5 }))
      : null;
    const dout = randomData(size + 3, size);
    // The ReLU's mask must be the same in float32 and float64: no pre-activation within 1e-4 of
    // 0 (the f32 pre-activation is within ~1e-6 of the f64 one in these cases: the forward's
    // worst errors printed below).
    const margin = kinkMargin(xData, wData, bData, rData, s);
    assert.ok(margin > 1e-4, `test data: smallest |pre-activation| ${margin} must exceed 1e-4`);
    const x = leaf(xData, [n, c, h, w]);
    const weight = leaf(wData, [c]);
    const bias = leaf(bData, [c]);
    const residual = rData ? leaf(rData, [n, c, h, w]) : null;
    const y = groupNormRelu(x, weight, bias, groups, residual);
    // groupNorm's bound (sums over a block of L = C/G*H*W elements); the add is one more f32
    // rounding (|y| * 2^-24, inside rtol) and the ReLU is exact.
    const blockLen = (c / groups) * h * w;
    assertClose(
      `groupNormRelu forward ${label}`,
      await y.read(),
      groupNormReluForward(xData, wData, bData, rData, s),
      TOL.forLength(blockLen),
    );
    const inputs = residual ? [x, weight, bias, residual] : [x, weight, bias];
    const [dx, dw, db, dr] = await gpuGrads(y, dout, inputs);
    const ref = groupNormReluBackward(xData, wData, bData, rData, dout, s);
    // As groupNorm's: forLength's bound times the largest invstd of any group (>= 1); the mask
    // itself adds no error (same mask, see above).
    const tolGrads = scaled(TOL.forLength(Math.max(blockLen, n * h * w)), Math.max(1, maxInvStd(xData, s)));
    assertClose(`groupNormRelu dx ${label}`, dx!, ref.dx, tolGrads);
    assertClose(`groupNormRelu dweight ${label}`, dw!, ref.dweight, tolGrads);
    assertClose(`groupNormRelu dbias ${label}`, db!, ref.dbias, tolGrads);
    // dresidual = dy masked: a copy of the f32 upstream gradient (only dout's rounding to f32).
    if (residual) assertClose(`groupNormRelu dresidual ${label}`, dr!, ref.dresidual, TOL.forLength(0));
    for (const t of [x, weight, bias, y, residual]) t?.dispose();
  });
}

test('groupNormRelu computes only the gradients required (frozen affine, residual without grad)', async () => {
  const s: GroupNormShape = { n: 1, c: 6, h: 3, w: 4, groups: 3, eps: 1e-5 };
  const xData = randomData(41, 72);
  const rData = randomData(42, 72);
  const dout = randomData(43, 72);
  const ones = new Float64Array(6).fill(1.5);
  const zeros = new Float64Array(6);
  assert.ok(kinkMargin(xData, ones, zeros, rData, s) > 1e-4, 'test data away from the kink');
  const x = leaf(xData, [1, 6, 3, 4]);
  const weight = Tensor.full([6], 1.5);
  const bias = Tensor.full([6], 0);
  const residual = Tensor.from(rData, [1, 6, 3, 4]);
  const y = groupNormRelu(x, weight, bias, 3, residual);
  const [dx, dw, db, dr] = await gpuGrads(y, dout, [x, weight, bias, residual]);
  assert.is(dw, null);
  assert.is(db, null);
  assert.is(dr, null);
  assertClose(
    'groupNormRelu dx, frozen affine and residual',
    dx!,
    groupNormReluBackward(xData, ones, zeros, rData, dout, s).dx,
    TOL.forLength(24),
  );
  // The residual alone requires grad: its gradient is the masked dy.
  const r2 = leaf(rData, [1, 6, 3, 4]);
  const xFrozen = Tensor.from(xData, [1, 6, 3, 4]);
  const y2 = groupNormRelu(xFrozen, weight, bias, 3, r2);
  const [dx2, dr2] = await gpuGrads(y2, dout, [xFrozen, r2]);
  assert.is(dx2, null);
  assertClose('groupNormRelu dresidual alone', dr2!, groupNormReluBackward(xData, ones, zeros, rData, dout, s).dresidual, TOL.forLength(0));
  for (const t of [x, weight, bias, residual, y, r2, xFrozen, y2]) t.dispose();
});

test('reference groupNormRelu gradients vs finite differences x=[2,4,2,3] groups=2, with and without residual', () => {
  const s: GroupNormShape = { n: 2, c: 4, h: 2, w: 3, groups: 2, eps: 1e-5 };
  const x = randomData(21, 48, -1, 2);
  const weight = randomData(22, 4, 0.5, 1.5);
  const bias = randomData(23, 4, -0.5, 0.5);
  const r = randomData(25, 48);
  const dout = randomData(24, 48);
  for (const res of [null, r]) {
    // Central differences with step 1e-6 straddle the kink only within ~1e-5 of it.
    assert.ok(kinkMargin(x, weight, bias, res, s) > 1e-4, 'test data away from the kink');
    const ref = groupNormReluBackward(x, weight, bias, res, dout, s);
    const tag = res ? ' +residual' : '';
    checkAgainstFiniteDifferences(
      `groupNormRelu ref dx vs FD${tag}`,
      (v) => groupNormReluForward(v, weight, bias, res, s),
      x,
      dout,
      ref.dx,
    );
    checkAgainstFiniteDifferences(
      `groupNormRelu ref dweight vs FD${tag}`,
      (v) => groupNormReluForward(x, v, bias, res, s),
      weight,
      dout,
      ref.dweight,
    );
    checkAgainstFiniteDifferences(
      `groupNormRelu ref dbias vs FD${tag}`,
      (v) => groupNormReluForward(x, weight, v, res, s),
      bias,
      dout,
      ref.dbias,
    );
    if (res)
      checkAgainstFiniteDifferences(
        'groupNormRelu ref dresidual vs FD',
        (v) => groupNormReluForward(x, weight, bias, v, s),
        res,
        dout,
        ref.dresidual,
      );
  }
});

test('bad calls throw ShapeError naming groupNormRelu and the shapes', () => {
  const x = Tensor.empty([1, 6, 2, 2]);
  const w6 = Tensor.empty([6]);
  const r = Tensor.empty([1, 6, 2, 3]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => groupNormRelu(x, w6, w6, 4), is(/groupNormRelu: groups must .* divides the channel count \(x \[1,6,2,2\]/));
  assert.throws(() => groupNormRelu(x, w6, w6, 3, r), is(/groupNormRelu: residual \[1,6,2,3\] must be f32 and of x's shape \[1,6,2,2\]/));
  for (const t of [x, w6, r]) t.dispose();
});

test.run();
