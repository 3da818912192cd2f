// @smoke-gl
/**
 * Every kernel variant in the variant tables (CONV2D_VARIANTS, MATMUL_VARIANTS, GROUP_NORM_VARIANTS) against its
 * float64 reference on this adapter, driven by the tables: for each GEMM row sharing the adapter
 * can run (usableRowSharings: 'invocation' everywhere, 'subgroups' where the adapter has them),
 * the cases below run under that sharing and are compared with the reference; afterwards every
 * table entry whose features the adapter has must have been dispatched, and none other. So on
 * lavapipe both the subgroup and the per-invocation GEMM kernels are checked, and on the GL
 * adapter (no subgroups) the per-invocation ones, and a variant added to a table without a case
 * that reaches it fails here.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { asF32 } from '../helpers/f32.ts';
import { checkGroupNorm } from '../helpers/group_norm_check.ts';
import { abs, checkMatmul, gemmTol } from '../helpers/matmul_check.ts';
import { withPrecision } from '../../engine/precision.ts';
import { runtime, type DispatchInfo } from '../../engine/runtime.ts';
import { FEATURE_CAPS, type KernelVariant } from '../../engine/kernel.ts';
import { Tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import {
  conv2d,
  conv2dGeometry,
  CONV2D_VARIANTS,
  conv2dForwardTiled,
  conv2dBackwardInputTiled,
  conv2dBackwardWeightTiled,
} from '../../engine/ops/conv2d.ts';
import { matmul, MATMUL_VARIANTS, gemmTiled } from '../../engine/ops/matmul.ts';
import { usableRowSharings, withRowSharing, type RowSharing } from '../../engine/ops/gemm_tiles.ts';
import { conv2dRef, conv2dBackwardRef, conv2dOutShape, type ConvParamsRef, type Shape4 } from '../../engine/reference/conv2d.ts';
import { matmulRef } from '../../engine/reference/matmul.ts';
import { tiledPrecisions } from '../../engine/ops/gemm_shared.ts';
import { SHARED_TILE_CONFIGS, sharedTileConfigsFor } from '../../engine/ops/shared_tile_config.ts';
import { forceGroupNormPath, GROUP_NORM_VARIANTS, type NormEpilogue } from '../../engine/ops/group_norm.ts';
import type { GroupNormShape } from '../../engine/reference/group_norm.ts';

/** The variants of a table, however nested (an entry with a `file` is a variant). */
function variantsOf(table: object): KernelVariant[] {
  return Object.values(table).flatMap((v) => ('file' in v ? [v as KernelVariant] : variantsOf(v)));
}
const ALL = [...variantsOf(CONV2D_VARIANTS), ...variantsOf(MATMUL_VARIANTS), ...variantsOf(GROUP_NORM_VARIANTS)];
/** A variant's identity: its name and what it is compiled with. */
const keyOf = (v: Pick<KernelVariant, 'name' | 'includes'>) => `${v.name} [${(v.includes ?? []).join(', ')}]`;

const ran = new Set<string>();
await gpu();
const sharings: RowSharing[] = usableRowSharings();
for (const s of ['subgroups', 'invocation'] as RowSharing[]) {
  if (!sharings.includes(s)) console.log(`  (the ${s} GEMM variants cannot run on this adapter: not compared here)`);
}

test.before(() => {
  runtime().observer = {
    beginDispatch(d: DispatchInfo) {
      ran.add(keyOf(d.spec));
      return undefined;
    },
  };
});
test.after(() => {
  runtime().observer = null;
});

test('the variant names are unique per (name, includes) and every table entry has a body file', () => {
  const keys = ALL.map(keyOf);
  assert.is(new Set(keys).size, keys.length, keys.join('; '));
  assert.ok(
    ALL.every((v) => v.file.endsWith('.wgsl') && v.file.includes('/')),
    'bodies addressed by family path',
  );
});

interface ConvCase {
  x: Shape4;
  w: Shape4;
  s?: [number, number];
  p?: [number, number];
  d?: [number, number];
  bias: boolean;
  why: string;
}

// General kernels on both sharings (W % 4 != 0 or dilated: never a row kernel), incl. stride
// phases and split-K; row kernels where subgroups exist (their geometries as in conv2d.test.ts).
const CONV_CASES: ConvCase[] = [
  { x: [2, 3, 10, 9], w: [5, 3, 3, 2], s: [2, 1], p: [0, 2], d: [1, 2], bias: true, why: 'general: per-axis geometry, stride phases' },
  { x: [2, 3, 40, 37], w: [4, 3, 3, 3], p: [1, 1], bias: false, why: 'general: split-K weight gradient' },
  { x: [2, 5, 7, 12], w: [6, 5, 3, 3], p: [1, 1], bias: true, why: 'row3: forward, input gradient, weight gradient' },
  { x: [2, 5, 9, 16], w: [7, 5, 3, 3], s: [2, 2], p: [1, 1], bias: false, why: 'row3s2: forward, weight gradient' },
  { x: [1, 3, 19, 32], w: [32, 3, 7, 7], s: [2, 2], p: [3, 3], bias: false, why: 'row7s2: forward, weight gradient' },
  { x: [2, 3, 40, 36], w: [4, 3, 3, 3], p: [1, 1], bias: false, why: 'row3: split-K weight gradient' },
];

async function checkConv(c: ConvCase, seed: number, label: string, f16 = false) {
  const rng = new Rng(seed);
  const pr: ConvParamsRef = { stride: c.s ?? [1, 1], padding: c.p ?? [0, 0], dilation: c.d ?? [1, 1] };
  const yShape = conv2dOutShape(c.x, c.w, pr);
  const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const x = asF32(rng.array(n(c.x)));
  const w = asF32(rng.array(n(c.w), () => rng.normal(0, 1 / Math.sqrt(c.w[1] * c.w[2] * c.w[3]))));
  const b = c.bias ? asF32(rng.array(c.w[0])) : null;
  const dy = asF32(rng.array(n(yShape)));
  const ref = conv2dRef(x, c.x, w, c.w, b, pr);
  const grads = conv2dBackwardRef(x, c.x, w, c.w, dy, pr);
  const xt = Tensor.from(x, c.x),
    wt = Tensor.from(w, c.w),
    bt = b ? Tensor.from(b, [c.w[0]]) : null;
  for (const t of [xt, wt, bt]) if (t) t.requiresGrad = true;
  const dyt = Tensor.from(dy, yShape);
  const y = conv2d(xt, wt, bt, pr);
  backward(y, dyt);
  const pixels = yShape[0] * yShape[2] * yShape[3];
  const absGrads = () => conv2dBackwardRef(abs(x), c.x, abs(w), c.w, abs(dy), pr);
  const absY = () => conv2dRef(abs(x), c.x, abs(w), c.w, null, pr).y;
  assertClose(`${label} forward`, await y.read(), ref.y, gemmTol(f16, c.w[1] * c.w[2] * c.w[3], absY));
  assertClose(
    `${label} dx`,
    await xt.grad!.read(),
    grads.dx,
    gemmTol(f16, c.w[0] * c.w[2] * c.w[3], () => absGrads().dx),
  );
  assertClose(
    `${label} dw`,
    await wt.grad!.read(),
    grads.dw,
    gemmTol(f16, pixels, () => absGrads().dw),
  );
  if (bt) assertClose(`${label} db`, await bt.grad!.read(), grads.db, TOL.forLength(pixels));
  for (const t of [xt, wt, bt, y, dyt])
    if (t) {
      t.grad?.dispose();
      t.dispose();
    }
}

for (const sharing of sharings) {
  test(`rows shared by ${sharing}: matmul and conv2d (all passes) against the float64 reference`, async () => {
    // The GEMM sharing is picked at dispatch, so each op call runs inside withRowSharing; the reads
    // (async) happen after, on results already recorded.
    const pending: Promise<void>[] = [];
    withRowSharing(sharing, () => {
      pending.push(checkMatmul(37, 53, 29, 7, `matmul [37,53]x[53,29] (${sharing})`));
      CONV_CASES.forEach((c, i) => pending.push(checkConv(c, 40 + i, `conv2d x=[${c.x}] w=[${c.w}] ${c.why} (${sharing})`)));
    });
    for (const p of pending) await p;
  });
}

// The f16 GEMM variants (precision 'f16', engine/precision.ts) where the adapter has 'shader-f16':
// the general kernels in each row sharing (at f16 no row kernel runs), within f16GemmTol
// (test/ops/gemm_f16.test.ts states the bound and prints f16's cost against f32).
for (const sharing of sharings) {
  if (!runtime().gpu.caps.shaderF16) {
    console.log(`  (the f16 GEMM variants cannot run on this adapter: no 'shader-f16')`);
    break;
  }
  test(`rows shared by ${sharing}, precision f16: matmul and conv2d (all passes) against the float64 reference`, async () => {
    const pending: Promise<void>[] = [];
    withPrecision('f16', () =>
      withRowSharing(sharing, () => {
        pending.push(checkMatmul(37, 53, 29, 7, `matmul [37,53]x[53,29] (${sharing}, f16)`, true));
        CONV_CASES.slice(0, 2).forEach((c, i) =>
          pending.push(checkConv(c, 40 + i, `conv2d x=[${c.x}] w=[${c.w}] ${c.why} (${sharing}, f16)`, true)),
        );
      }),
    );
    for (const p of pending) await p;
  });
}

// The workgroup-memory tiled GEMM variants (engine/ops/gemm_shared.ts), in every tile configuration
// this adapter's limits allow: one conv geometry with stride phases and a split weight gradient,
// and one matmul with a transposed operand and a bias (the full cases: conv2d_tiled.test.ts,
// matmul_tiled.test.ts).
const tileSizes = sharedTileConfigsFor(runtime().limits);
test('tiled variants: conv2d (all passes, split-K) and gemm against the float64 reference', async () => {
  const c = CONV_CASES[0];
  const rng = new Rng(90);
  const pr: ConvParamsRef = { stride: c.s ?? [1, 1], padding: c.p ?? [0, 0], dilation: c.d ?? [1, 1] };
  const yShape = conv2dOutShape(c.x, c.w, pr);
  const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const x = asF32(rng.array(n(c.x))),
    w = asF32(rng.array(n(c.w), () => rng.normal(0, 1 / Math.sqrt(c.w[1] * c.w[2] * c.w[3])))),
    b = asF32(rng.array(c.w[0])),
    dy = asF32(rng.array(n(yShape)));
  const ref = conv2dRef(x, c.x, w, c.w, b, pr);
  const grads = conv2dBackwardRef(x, c.x, w, c.w, dy, pr);
  const xt = Tensor.from(x, c.x),
    wt = Tensor.from(w, c.w),
    bt = Tensor.from(b, [c.w[0]]),
    dyt = Tensor.from(dy, yShape);
  const g = conv2dGeometry(xt, wt, bt, pr);
  const [M, K, N] = [37, 53, 29];
  const ma = asF32(rng.array(M * K)),
    mb = asF32(rng.array(N * K));
  const mat = Tensor.from(ma, [M, K]),
    mbt = Tensor.from(mb, [N, K]);
  // b stored [N,K], read transposed: the reference's B[k][n] = mb[n*K + k].
  const bRef = new Float64Array(K * N);
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) bRef[k * N + j] = mb[j * K + k];
  for (const s of tileSizes) {
    const label = `tiled ${s} x=[${c.x}] w=[${c.w}] ${c.why}`;
    const y = conv2dForwardTiled(xt, wt, bt, g, s);
    assertClose(`${label} forward`, await y.read(), ref.y, TOL.forLength(c.w[1] * c.w[2] * c.w[3]));
    const dx = conv2dBackwardInputTiled(dyt, wt, g, s);
    assertClose(`${label} dx`, await dx.read(), grads.dx, TOL.forLength(c.w[0] * c.w[2] * c.w[3]));
    const dw = conv2dBackwardWeightTiled(xt, dyt, g, 2, s);
    assertClose(`${label} dw (2 splits)`, await dw.read(), grads.dw, TOL.forLength(yShape[0] * yShape[2] * yShape[3]));
    const mc = gemmTiled({ t: mat }, { t: mbt, transposed: true }, null, s);
    assertClose(`tiled ${s} matmul [${M},${K}]x[${N},${K}]^T`, await mc.read(), matmulRef(ma, bRef, M, K, N), TOL.forLength(K));
    for (const t of [y, dx, dw, mc]) t.dispose();
    if (tiledPrecisions().includes('f16')) {
      // f16-staged tiles: each value rounded once by at most 2^-11 relative, so within
      // 2^-10 * max_i sum_k |a_k b_k| (+ the float32 bound); the exact per-element bound is tiled_f16.test.ts's.
      const S = conv2dRef(x.map(Math.abs), c.x, w.map(Math.abs), c.w, null, pr).y.reduce((m, v) => Math.max(m, v), 0);
      const f32Tol = TOL.forLength(c.w[1] * c.w[2] * c.w[3]);
      const y16 = conv2dForwardTiled(xt, wt, bt, g, s, 'f16');
      assertClose(`${label} forward (f16 tiles)`, await y16.read(), ref.y, { atol: 2 ** -10 * 1.001 * S + f32Tol.atol, rtol: f32Tol.rtol });
      const mS = matmulRef(ma.map(Math.abs), bRef.map(Math.abs), M, K, N).reduce((m, v) => Math.max(m, v), 0);
      const m16 = gemmTiled({ t: mat }, { t: mbt, transposed: true }, null, s, 'f16');
      assertClose(`tiled ${s} matmul (f16 tiles)`, await m16.read(), matmulRef(ma, bRef, M, K, N), {
        atol: 2 ** -10 * 1.001 * mS + TOL.forLength(K).atol,
        rtol: TOL.forLength(K).rtol,
      });
      for (const t of [y16, m16]) t.dispose();
    }
  }
  for (const t of [xt, wt, bt, dyt, mat, mbt]) t.dispose();
});

// Group norm, every epilogue (none, ReLU, residual add + ReLU): the scalar body (H*W % 4 != 0),
// vec4 with one invocation per slab and per plane (runs up to GROUP_NORM_PER_INVOCATION_MAX =
// 4096) and vec4 with a workgroup per slab and per plane (a 9216-element slab of 4608-pixel maps).
const NORM_CASES: [GroupNormShape, string][] = [
  [{ n: 2, c: 6, h: 3, w: 5, groups: 3, eps: 1e-5 }, 'scalar'],
  [{ n: 2, c: 8, h: 4, w: 6, groups: 4, eps: 1e-5 }, 'vec4, per invocation'],
  [{ n: 1, c: 2, h: 72, w: 64, groups: 1, eps: 1e-5 }, 'vec4, per workgroup'],
];

test('group norm variants: every epilogue on the scalar, per-invocation and per-workgroup bodies, forward and backward', async () => {
  let seed = 70;
  for (const [s, why] of NORM_CASES) {
    for (const epilogue of ['none', 'relu', 'addRelu'] as NormEpilogue[]) {
      await checkGroupNorm(s, epilogue, seed++, `group norm (${epilogue}) x=[${s.n},${s.c},${s.h},${s.w}] G=${s.groups} ${why}`, true);
    }
  }
});

test('group norm slab variants (GPU-shaped, forced): every epilogue, forward and backward', async () => {
  // The seeds of the test above (data known to keep the ReLU's kink away), so both paths see the same inputs.
  let seed = 70;
  // checkGroupNorm dispatches the forward and backward before its first await, inside the force.
  for (const [s] of NORM_CASES) {
    for (const epilogue of ['none', 'relu', 'addRelu'] as NormEpilogue[]) {
      await forceGroupNormPath('slab', () =>
        checkGroupNorm(s, epilogue, seed++, `group norm slab (${epilogue}) x=[${s.n},${s.c},${s.h},${s.w}] G=${s.groups}`, true),
      );
    }
  }
});

test('every variant this adapter can run was compared above, and none it cannot', () => {
  const caps = runtime().gpu.caps;
  // A tiled variant runs only where the limits allow its tile configuration (its constants name it).
  const tileAllowed = (v: KernelVariant) =>
    v.constants?.BM === undefined ||
    tileSizes.some((s) => SHARED_TILE_CONFIGS[s].BM === v.constants!.BM && SHARED_TILE_CONFIGS[s].BN === v.constants!.BN);
  const runnable = (v: KernelVariant) =>
    tileAllowed(v) && (v.features ?? []).every((f) => caps[FEATURE_CAPS[f]] && (f !== 'subgroups' || sharings.includes('subgroups')));
  const missed = ALL.filter((v) => runnable(v) && !ran.has(keyOf(v))).map(keyOf);
  assert.equal(missed, [], `variants never dispatched: ${missed.join('; ')}`);
  const wrong = ALL.filter((v) => !runnable(v) && ran.has(keyOf(v))).map(keyOf);
  assert.equal(wrong, [], `variants this adapter cannot run were dispatched: ${wrong.join('; ')}`);
  console.log(`    ${ALL.filter(runnable).length} of ${ALL.length} variants run on this adapter (row sharings: ${sharings.join(', ')})`);
});

test.run();
