/**
 * The workgroup-memory tiled conv2d kernels (engine/ops/gemm_shared.ts: forward, input gradient,
 * weight gradient with split-K) against the float64 reference (engine/reference/conv2d.ts), in
 * every tile configuration this adapter's limits allow, over awkward geometry: odd sizes that no
 * tile divides, 1x1 maps and kernels, the 7x7 stride-2 stem, dilation, per-axis padding, a
 * reduction shorter than one BK step, and the weight gradient unsplit, split by the default and
 * split 3 ways. Runs on the default adapter and on the GL pass (test/ops/ is a kernel-test folder).
 * Tolerances: TOL.forLength(reduction length), the float32 bound of engine/check.ts: the tiled
 * kernels sum the same products in another order, and split-K adds its partial sums in f32 once
 * more per split, which the bound (any summation order) covers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { asF32 } from '../helpers/f32.ts';
import { Tensor } from '../../engine/tensor.ts';
import { Rng } from '../../engine/random.ts';
import { runtime } from '../../engine/runtime.ts';
import {
  conv2dGeometry,
  conv2dForwardTiled,
  conv2dBackwardInputTiled,
  conv2dBackwardWeightTiled,
  conv2dBackwardWeightTiledSplits,
  conv2dBackwardWeightTiledSplitCandidates,
} from '../../engine/ops/conv2d.ts';
import { tiledUsable } from '../../engine/ops/gemm_shared.ts';
import { sharedTileConfigsFor } from '../../engine/ops/shared_tile_config.ts';
import { conv2dRef, conv2dBackwardRef, conv2dOutShape, type ConvParamsRef, type Shape4 } from '../../engine/reference/conv2d.ts';

await gpu();

interface Case {
  x: Shape4;
  w: Shape4;
  s?: [number, number];
  p?: [number, number];
  d?: [number, number];
  bias?: boolean;
  why: string;
}

const CASES: Case[] = [
  { x: [2, 3, 7, 5], w: [5, 3, 3, 3], s: [2, 2], p: [1, 1], bias: true, why: 'odd H != W, stride 2, 5 outputs' },
  { x: [3, 5, 1, 1], w: [7, 5, 1, 1], bias: true, why: '1x1 map, 1x1 kernel: K = 5, shorter than one step' },
  { x: [2, 4, 1, 1], w: [3, 4, 3, 3], p: [1, 1], why: '1x1 map, 3x3 kernel reading mostly padding' },
  { x: [2, 3, 10, 9], w: [5, 3, 3, 2], s: [2, 1], p: [0, 2], d: [1, 2], bias: true, why: 'per-axis stride, padding, dilation' },
  { x: [1, 2, 11, 8], w: [3, 2, 2, 3], s: [1, 3], p: [2, 1], d: [2, 1], why: 'stride 3 on one axis, dilation on the other' },
  { x: [1, 3, 19, 17], w: [33, 3, 7, 7], s: [2, 2], p: [3, 3], why: 'the 7x7 stride-2 stem, 33 outputs (past one 32 tile)' },
  { x: [1, 3, 9, 10], w: [4, 3, 3, 3], s: [2, 2], p: [2, 2], d: [2, 2], why: 'stride 2 and dilation 2: phases with no taps' },
  { x: [2, 7, 13, 67], w: [65, 7, 3, 3], p: [1, 1], bias: true, why: '65 outputs x 1742 pixels: no tile divides' },
  { x: [2, 3, 40, 37], w: [4, 3, 3, 3], p: [1, 1], why: 'long weight-gradient reduction (2960): split-K' },
  { x: [1, 70, 5, 3], w: [9, 70, 1, 1], s: [2, 2], why: '1x1 stride 2, 70 channels: dx rows past one 64 tile' },
];

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const usable = sharedTileConfigsFor(runtime().limits);

test('this adapter runs the tiled kernels in at least one configuration', () => {
  assert.ok(tiledUsable(), `limits ${JSON.stringify(runtime().limits)}`);
  console.log(`    tile configurations allowed here: ${usable.join(', ')}`);
});

CASES.forEach((c, idx) => {
  const pr: ConvParamsRef = { stride: c.s ?? [1, 1], padding: c.p ?? [0, 0], dilation: c.d ?? [1, 1] };
  const name = `x=[${c.x}] w=[${c.w}] s=[${pr.stride}] p=[${pr.padding}] d=[${pr.dilation}]${c.bias ? ' +bias' : ''} (${c.why})`;
  test(`tiled conv2d, all passes, every configuration: ${name}`, async () => {
    const rng = new Rng(500 + idx);
    const yShape = conv2dOutShape(c.x, c.w, pr);
    const x = asF32(rng.array(size(c.x)));
    const w = asF32(rng.array(size(c.w), () => rng.normal(0, 1 / Math.sqrt(c.w[1] * c.w[2] * c.w[3]))));
    const b = c.bias ? asF32(rng.array(c.w[0])) : null;
    const dy = asF32(rng.array(size(yShape)));
    const ref = conv2dRef(x, c.x, w, c.w, b, pr);
    const grads = conv2dBackwardRef(x, c.x, w, c.w, dy, pr);
    const xt = Tensor.from(x, c.x),
      wt = Tensor.from(w, c.w),
      bt = b ? Tensor.from(b, [c.w[0]]) : null,
      dyt = Tensor.from(dy, yShape);
    const g = conv2dGeometry(xt, wt, bt, pr);
    const pixels = yShape[0] * yShape[2] * yShape[3];
    for (const s of usable) {
      const y = conv2dForwardTiled(xt, wt, bt, g, s);
      assertClose(`tiled ${s} forward ${name}`, await y.read(), ref.y, TOL.forLength(c.w[1] * c.w[2] * c.w[3]));
      const dx = conv2dBackwardInputTiled(dyt, wt, g, s);
      assertClose(`tiled ${s} backwardInput ${name}`, await dx.read(), grads.dx, TOL.forLength(c.w[0] * c.w[2] * c.w[3]));
      const fallback = conv2dBackwardWeightTiledSplits(g, s);
      for (const splits of [...new Set([1, 3, fallback])]) {
        const dw = conv2dBackwardWeightTiled(xt, dyt, g, splits, s);
        assertClose(`tiled ${s} backwardWeight splits ${splits} ${name}`, await dw.read(), grads.dw, TOL.forLength(pixels));
        dw.dispose();
      }
      for (const t of [y, dx]) t.dispose();
    }
    for (const t of [xt, wt, bt, dyt]) t?.dispose();
  });
});

test('the default split count splits a long reduction over few tiles, and not a short one', () => {
  const geometry = (xs: Shape4, ws: Shape4) => {
    const x = Tensor.empty(xs),
      w = Tensor.empty(ws);
    const g = conv2dGeometry(x, w, null, { padding: 1 });
    x.dispose();
    w.dispose();
    return g;
  };
  // The model's first 3x3 layer at batch 8: K = 8*64*64 = 32768 over a 32 x 288 weight.
  const long = geometry([8, 32, 64, 64], [32, 32, 3, 3]);
  const splits = conv2dBackwardWeightTiledSplits(long);
  assert.ok(splits > 1, `a 32768-long reduction over a handful of tiles is split (got ${splits})`);
  assert.ok(32768 / splits >= 256, 'each split keeps at least TILED_MIN_SPLIT_K reductions');
  // K = 2*3*3 = 18: never split.
  const short = geometry([2, 4, 3, 3], [5, 4, 3, 3]);
  assert.is(conv2dBackwardWeightTiledSplits(short), 1);
  // The tuner's candidates: always 1 and the default; never more splits than BK steps.
  const candidates = conv2dBackwardWeightTiledSplitCandidates(long);
  assert.ok(candidates.includes(1) && candidates.includes(splits) && candidates.length > 2, `${candidates}`);
  assert.equal(conv2dBackwardWeightTiledSplitCandidates(short), [1, 2], 'K = 18: at most 2 splits of 16');
});

test.run();
