/**
 * The f16-staged tiled kernels (precisionVariants('f16') / conv2dForwardTiled and gemmTiled with
 * precision 'f16', engine/ops/gemm_shared.ts) against the float64 reference, in every tile
 * configuration the limits allow. Skipped, with the reason printed, where the adapter lacks
 * shader-f16 (the GL adapter).
 *
 * Bound, per output element of a length-n reduction sum_k a_k b_k: each staged value is rounded
 * to f16 once, relative error at most u = 2^-11 (or, below f16's normal range, at most 2^-25
 * absolutely), so each product is off by at most (2u + u^2)|a_k b_k| + 2^-25 (|a_k| + |b_k|), and
 * the f32 accumulation adds the float32 bound of engine/check.ts (TOL.forLength(n)):
 *   |gpu - ref| <= (2u + u^2) S + 2^-25 n (max|a| + max|b|) + EPS32 (n + 4) (1 + |ref|),
 * with S = sum_k |a_k b_k| computed exactly by the float64 reference on |a| and |b|. Every
 * element is checked against its own bound; the test prints the worst error and the worst
 * ratio error / bound per kernel.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { asF32, EPS32 } from '../helpers/f32.ts';
import { Tensor } from '../../engine/tensor.ts';
import { Rng } from '../../engine/random.ts';
import { runtime } from '../../engine/runtime.ts';
import { withPrecision } from '../../engine/precision.ts';
import { conv2dGeometry, conv2dForwardTiled } from '../../engine/ops/conv2d.ts';
import { gemmTiled } from '../../engine/ops/matmul.ts';
import { tiledPrecisions } from '../../engine/ops/gemm_shared.ts';
import { precisionVariants } from '../../engine/ops/tiled_precision.ts';
import { sharedTileConfigsFor } from '../../engine/ops/shared_tile_config.ts';
import { conv2dRef, conv2dOutShape, type ConvParamsRef, type Shape4 } from '../../engine/reference/conv2d.ts';
import { matmulRef } from '../../engine/reference/matmul.ts';

await gpu();

const U16 = 2 ** -11;
function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}
const abs = (v: Float64Array) => v.map(Math.abs);

/** The f16 bound of output i (file comment). */
function boundAt(i: number, ref: Float64Array, S: Float64Array, n: number, maxA: number, maxB: number): number {
  return (2 * U16 + U16 * U16) * S[i] + 2 ** -25 * n * (maxA + maxB) + EPS32 * (n + 4) * (1 + Math.abs(ref[i]));
}

/** Check every element against its own f16 bound (file comment); print and return the worst ratio. */
function checkF16(
  label: string,
  gpuOut: ArrayLike<number>,
  ref: Float64Array,
  S: Float64Array,
  n: number,
  maxA: number,
  maxB: number,
): number {
  let worstErr = 0,
    worstRatio = 0,
    at = -1;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(gpuOut[i] - ref[i]);
    const bound = boundAt(i, ref, S, n, maxA, maxB);
    worstErr = Math.max(worstErr, err);
    if (!(err / bound <= worstRatio)) {
      worstRatio = err / bound;
      at = i;
    }
  }
  console.log(
    `    ${label}: worst abs err ${worstErr.toExponential(2)}, worst err/bound ${worstRatio.toFixed(3)} (n=${n}, ${ref.length} outputs)`,
  );
  assert.ok(worstRatio <= 1, `${label}: element ${at}: gpu ${gpuOut[at]} ref ${ref[at]} exceeds its f16 bound (ratio ${worstRatio})`);
  // Also through the common closeness rule (recorded by the conformance suite), at the largest per-element bound.
  let largest = 0;
  for (let i = 0; i < ref.length; i++) largest = Math.max(largest, boundAt(i, ref, S, n, maxA, maxB));
  assertClose(label, gpuOut, ref, { atol: largest, rtol: 0 });
  return worstRatio;
}

const hasF16 = tiledPrecisions().includes('f16');
if (!hasF16) {
  console.log(`  (f16 tiled kernels skipped: adapter '${runtime().gpu.adapter.name}' lacks the shader-f16 feature)`);
  test.skip('f16 tiled conv2d forward and gemm against the float64 reference (needs shader-f16)', () => {});
  test('without shader-f16 the f16 precision is refused with a message naming the feature; f32 runs', async () => {
    assert.throws(() => precisionVariants('f16'), /shader-f16/);
    const [M, K, N] = [9, 21, 13];
    const rng = new Rng(790);
    const a = asF32(rng.array(M * K)),
      b = asF32(rng.array(K * N));
    const at = Tensor.from(a, [M, K]),
      bt = Tensor.from(b, [K, N]);
    const c = precisionVariants('f32').gemm({ t: at }, { t: bt }, null);
    assertClose(`precisionVariants('f32').gemm [${M},${K}]x[${K},${N}]`, await c.read(), matmulRef(a, b, M, K, N), TOL.forLength(K));
    for (const t of [at, bt, c]) t.dispose();
  });
} else {
  const sizes = sharedTileConfigsFor(runtime().limits);
  const CONV: { x: Shape4; w: Shape4; pr: ConvParamsRef; bias: boolean; why: string }[] = [
    {
      x: [2, 3, 19, 17],
      w: [33, 3, 7, 7],
      pr: { stride: [2, 2], padding: [3, 3], dilation: [1, 1] },
      bias: true,
      why: 'the 7x7 stride-2 stem',
    },
    {
      x: [2, 64, 6, 5],
      w: [64, 64, 3, 3],
      pr: { stride: [1, 1], padding: [1, 1], dilation: [1, 1] },
      bias: false,
      why: '3x3 at 64 channels (n = 576)',
    },
    {
      x: [1, 5, 9, 11],
      w: [6, 5, 3, 3],
      pr: { stride: [1, 2], padding: [2, 1], dilation: [2, 1] },
      bias: false,
      why: 'dilation and per-axis stride',
    },
  ];
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

  CONV.forEach((c, idx) => {
    test(`f16 tiled conv2d forward x=[${c.x}] w=[${c.w}] (${c.why}) within its f16 bound, every configuration`, async () => {
      const rng = new Rng(700 + idx);
      const x = asF32(rng.array(size(c.x)));
      const w = asF32(rng.array(size(c.w), () => rng.normal(0, 1 / Math.sqrt(c.w[1] * c.w[2] * c.w[3]))));
      const b = c.bias ? asF32(rng.array(c.w[0])) : null;
      const ref = conv2dRef(x, c.x, w, c.w, b, c.pr).y;
      const S = conv2dRef(abs(x), c.x, abs(w), c.w, null, c.pr).y;
      const n = c.w[1] * c.w[2] * c.w[3];
      const xt = Tensor.from(x, c.x),
        wt = Tensor.from(w, c.w),
        bt = b ? Tensor.from(b, [c.w[0]]) : null;
      const g = conv2dGeometry(xt, wt, bt, c.pr);
      assert.equal([g.batch, g.O, g.OH, g.OW], conv2dOutShape(c.x, c.w, c.pr));
      for (const s of sizes) {
        const y = conv2dForwardTiled(xt, wt, bt, g, s, 'f16');
        checkF16(`f16 ${s} conv2dForward ${c.why}`, await y.read(), ref, S, n, maxAbs(x), maxAbs(w));
        y.dispose();
      }
      // The precision hook runs the same kernels (at the default size).
      const y = precisionVariants('f16').conv2dForward(xt, wt, bt, g);
      checkF16(`precisionVariants('f16').conv2dForward ${c.why}`, await y.read(), ref, S, n, maxAbs(x), maxAbs(w));
      // And f16 staging really rounds: the result differs from the f32-tiled one (else f16 was not used).
      const y32 = conv2dForwardTiled(xt, wt, bt, g, undefined, 'f32');
      const r16 = await y.read(),
        r32 = await y32.read();
      assert.ok(
        r16.some((v, i) => v !== r32[i]),
        'f16 staging changes some outputs',
      );
      for (const t of [xt, wt, bt, y, y32]) t?.dispose();
    });
  });

  const MM: [number, number, number][] = [
    [33, 65, 129],
    [8, 1000, 16],
    [1, 7, 5],
  ];
  MM.forEach(([M, K, N], idx) => {
    test(`f16 tiled gemm [${M},${K}]x[${K},${N}] within its f16 bound, every configuration, with bias`, async () => {
      const rng = new Rng(800 + idx);
      const a = asF32(rng.array(M * K)),
        b = asF32(rng.array(K * N, () => rng.uniform(-1, 1) / Math.sqrt(K))),
        bias = asF32(rng.array(N));
      const ref = matmulRef(a, b, M, K, N).map((v, i) => v + bias[i % N]);
      const S = matmulRef(abs(a), abs(b), M, K, N);
      const at = Tensor.from(a, [M, K]),
        bt = Tensor.from(b, [K, N]),
        biasT = Tensor.from(bias, [N]);
      for (const s of sizes) {
        const c = gemmTiled({ t: at }, { t: bt }, biasT, s, 'f16');
        checkF16(`f16 ${s} gemm [${M},${K}]x[${K},${N}]`, await c.read(), ref, S, K, maxAbs(a), maxAbs(b));
        c.dispose();
      }
      const c = precisionVariants('f16').gemm({ t: at }, { t: bt }, biasT);
      checkF16(`precisionVariants('f16').gemm [${M},${K}]x[${K},${N}]`, await c.read(), ref, S, K, maxAbs(a), maxAbs(b));
      // Under the process-wide precision f16 (engine/precision.ts, --precision f16) gemmTiled stages f16 by default: the same bits.
      const cp = withPrecision('f16', () => gemmTiled({ t: at }, { t: bt }, biasT));
      assert.equal(Array.from(await cp.read()), Array.from(await c.read()), 'withPrecision f16 runs the f16-tiled kernel');
      cp.dispose();
      // The f32 precision of the hook is the f32-tiled kernel: the float32 bound holds.
      const c32 = precisionVariants('f32').gemm({ t: at }, { t: bt }, biasT);
      assertClose(`precisionVariants('f32').gemm [${M},${K}]x[${K},${N}]`, await c32.read(), ref, TOL.forLength(K));
      for (const t of [at, bt, biasT, c, c32]) t.dispose();
    });
  });
}

test.run();
