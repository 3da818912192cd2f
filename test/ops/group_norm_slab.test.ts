// @smoke-gl
/**
 * The GPU-shaped group-norm variants (…Slab in GROUP_NORM_VARIANTS, kernels/norm/group_norm_slab.wgsl),
 * forced with forceGroupNormPath('slab'), against the float64 references (groupNorm and
 * groupNormRelu with and without the residual), forward and backward, over shapes that stress
 * their vec4 walk: slabs and planes that do not start on a vec4 (odd H*W, odd channels per
 * group), tensors whose size is not a multiple of 4 (the last vec4 gathered from the f32 view),
 * 1x1 maps, one channel per group, a 64x64 map; the reference gradients against finite
 * differences on such a shape; and the same bits from two runs (fixed-order reductions).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL, onGl, type Tol } from '../helpers/gpu.ts';
import { randomData, leaf, gpuGrads, checkAgainstFiniteDifferences } from '../helpers/op_check.ts';
import { asF32 } from '../helpers/f32.ts';
import { forceGroupNormPath, type NormEpilogue } from '../../engine/ops/group_norm.ts';
import { groupNorm } from '../../engine/ops/group_norm.ts';
import { groupNormRelu } from '../../engine/ops/group_norm_act.ts';
import { groupNormForward, groupNormBackward, type GroupNormShape } from '../../engine/reference/group_norm.ts';
import { groupNormReluForward, groupNormReluBackward } from '../../engine/reference/group_norm_act.ts';
import { Tensor } from '../../engine/tensor.ts';
import { runtime, type DispatchInfo } from '../../engine/runtime.ts';

test.before(async () => {
  await gpu();
});

// [N, C, H, W, groups]. Sizes: 2*3*3*5 = 90 (not a multiple of 4, 3 channels per group, slabs of
// 45 elements at odd offsets), 3*5*7*7 = 735 (one channel per group: planes of 49 at every
// offset mod 4), 3*7*1*1 = 21 (1x1 maps, 7 channels in one group), 2*6*1*1 (one element per
// slab: variance 0), 1*3*5*3 (a single odd slab), 2*4*64*64 (two 8192-element slabs, each
// reduced by a full workgroup), 2*9*7*7 with 3 channels per group.
const CASES: [number, number, number, number, number][] = onGl
  ? [
      [2, 3, 3, 5, 1],
      [3, 5, 7, 7, 5],
      [3, 7, 1, 1, 1],
    ]
  : [
      [2, 3, 3, 5, 1],
      [3, 5, 7, 7, 5],
      [3, 7, 1, 1, 1],
      [2, 6, 1, 1, 6],
      [1, 3, 5, 3, 1],
      [2, 9, 7, 7, 3],
      [2, 4, 64, 64, 2],
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

/** Inputs for a case, rounded to f32 (the reference sees what the GPU holds); the residual keeps every pre-activation >= 1e-3 from the kink. */
function inputs(s: GroupNormShape, epilogue: NormEpilogue, seed: number) {
  const size = s.n * s.c * s.h * s.w;
  const x = asF32(randomData(seed, size, -2, 3));
  const w = asF32(randomData(seed + 1, s.c, 0.5, 1.5));
  const b = asF32(randomData(seed + 2, s.c, -0.5, 0.5));
  const dy = asF32(randomData(seed + 3, size));
  const normalized = groupNormForward(x, w, b, s);
  const r =
    epilogue === 'addRelu'
      ? asF32(
          randomData(seed + 4, size).map((v, i) => (Math.abs(normalized[i] + v) < 1e-3 ? v + 2e-3 * Math.sign(normalized[i] + v || 1) : v)),
        )
      : null;
  return { x, w, b, dy, r, normalized };
}

/** Run the op (slab path) forward and backward; return y and the gradients. */
async function runSlab(s: GroupNormShape, epilogue: NormEpilogue, d: ReturnType<typeof inputs>) {
  const shape = [s.n, s.c, s.h, s.w];
  const xt = leaf(d.x, shape);
  const wt = leaf(d.w, [s.c]);
  const bt = leaf(d.b, [s.c]);
  const rt = d.r ? leaf(d.r, shape) : null;
  const y = forceGroupNormPath('slab', () =>
    epilogue === 'none' ? groupNorm(xt, wt, bt, s.groups) : groupNormRelu(xt, wt, bt, s.groups, rt),
  );
  const yData = (await y.read()) as Float32Array;
  const grads = await forceGroupNormPath('slab', () => gpuGrads(y, d.dy, rt ? [xt, wt, bt, rt] : [xt, wt, bt]));
  for (const t of [xt, wt, bt, rt, y]) t?.dispose();
  return { y: yData, dx: grads[0]!, dw: grads[1]!, db: grads[2]!, dr: grads[3] ?? null };
}

let seed = 500;
for (const [n, c, h, w, groups] of CASES) {
  for (const epilogue of ['none', 'relu', 'addRelu'] as NormEpilogue[]) {
    const label = `[${n},${c},${h},${w}] G=${groups} (${epilogue})`;
    const caseSeed = (seed += 10);
    test(`group norm slab variants ${label}: forward+backward vs float64`, async () => {
      const s: GroupNormShape = { n, c, h, w, groups, eps: 1e-5 };
      const d = inputs(s, epilogue, caseSeed);
      if (epilogue === 'relu') {
        // The ReLU's mask must agree between f32 and f64: no pre-activation within 1e-5 of 0.
        const margin = d.normalized.reduce((m, v) => Math.min(m, Math.abs(v)), Infinity);
        assert.ok(margin > 1e-5, `test data: smallest |pre-activation| ${margin} must exceed 1e-5`);
      }
      const got = await runSlab(s, epilogue, d);
      const refY = epilogue === 'none' ? d.normalized : groupNormReluForward(d.x, d.w, d.b, d.r, s);
      const ref =
        epilogue === 'none'
          ? { ...groupNormBackward(d.x, d.w, d.dy, s), dresidual: null }
          : groupNormReluBackward(d.x, d.w, d.b, d.r, d.dy, s);
      // groupNorm's bounds (test/ops/group_norm.test.ts): f32 sums over the slab (forward) or
      // over the slab and the N*H*W of a channel (backward), the latter times the largest 1/std.
      const blockLen = (c / groups) * h * w;
      assertClose(`slab y ${label}`, got.y, refY, TOL.forLength(blockLen));
      const tolGrads = scaled(TOL.forLength(Math.max(blockLen, n * h * w)), Math.max(1, maxInvStd(d.x, s)));
      assertClose(`slab dx ${label}`, got.dx, ref.dx, tolGrads);
      assertClose(`slab dweight ${label}`, got.dw, ref.dweight, tolGrads);
      assertClose(`slab dbias ${label}`, got.db, ref.dbias, tolGrads);
      if (got.dr) assertClose(`slab dresidual ${label}`, got.dr, ref.dresidual!, TOL.forLength(0));
    });
  }
}

test('slab variants give the same bits on a second run (fixed-order reductions) [2,9,7,7] G=3 addRelu', async () => {
  const s: GroupNormShape = { n: 2, c: 9, h: 7, w: 7, groups: 3, eps: 1e-5 };
  const d = inputs(s, 'addRelu', 900);
  const a = await runSlab(s, 'addRelu', d);
  const b = await runSlab(s, 'addRelu', d);
  for (const k of ['y', 'dx', 'dw', 'db', 'dr'] as const) assert.equal(Array.from(a[k]!), Array.from(b[k]!), `${k} differs between runs`);
});

test('reference groupNormRelu gradients vs finite differences on an unaligned shape x=[2,3,3,1] groups=1 +residual', () => {
  // H*W = 3 and 3 channels per group: the slab and plane offsets of the slab variants' worst case.
  const s: GroupNormShape = { n: 2, c: 3, h: 3, w: 1, groups: 1, eps: 1e-5 };
  const d = inputs(s, 'addRelu', 950);
  const ref = groupNormReluBackward(d.x, d.w, d.b, d.r, d.dy, s);
  checkAgainstFiniteDifferences('groupNormRelu ref dx vs FD', (v) => groupNormReluForward(v, d.w, d.b, d.r, s), d.x, d.dy, ref.dx);
  checkAgainstFiniteDifferences(
    'groupNormRelu ref dweight vs FD',
    (v) => groupNormReluForward(d.x, v, d.b, d.r, s),
    d.w,
    d.dy,
    ref.dweight,
  );
  checkAgainstFiniteDifferences(
    'groupNormRelu ref dresidual vs FD',
    (v) => groupNormReluForward(d.x, d.w, d.b, v, s),
    d.r!,
    d.dy,
    ref.dresidual,
  );
});

test("the rules still choose today's kernels; forceGroupNormPath selects the slab ones (tensors of 4 elements or more) and restores the rules after a throw", async () => {
  const names: string[] = [];
  runtime().observer = {
    beginDispatch(d: DispatchInfo) {
      names.push(d.spec.name);
      return undefined;
    },
  };
  try {
    const x = Tensor.from(
      new Float32Array(60).map((_, i) => i % 7),
      [1, 4, 3, 5],
    );
    const wt = Tensor.full([4], 1);
    const run = () => groupNorm(x, wt, wt, 2).dispose();
    run();
    assert.equal(names, ['groupNormForward']);
    names.length = 0;
    forceGroupNormPath('slab', run);
    assert.equal(names, ['groupNormForwardSlab']);
    assert.throws(() =>
      forceGroupNormPath('slab', () => {
        throw new Error('inside');
      }),
    );
    names.length = 0;
    run();
    assert.equal(names, ['groupNormForward']);
    // Fewer than 4 elements cannot be bound as a vec4 array: today's kernels run, correctly.
    names.length = 0;
    const tiny = Tensor.from([1, 2, 4], [1, 3, 1, 1]);
    const w3 = Tensor.full([3], 1);
    const yTiny = forceGroupNormPath('slab', () => groupNorm(tiny, w3, w3, 1));
    assert.equal(names, ['groupNormForward']);
    const s: GroupNormShape = { n: 1, c: 3, h: 1, w: 1, groups: 1, eps: 1e-5 };
    assertClose(
      'tiny x=[1,3,1,1] under slab',
      await yTiny.read(),
      groupNormForward(new Float64Array([1, 2, 4]), new Float64Array(3).fill(1), new Float64Array(3).fill(1), s),
      TOL.forLength(3),
    );
    for (const t of [x, wt, tiny, w3, yTiny]) t.dispose();
  } finally {
    runtime().observer = null;
  }
});

test.run();
