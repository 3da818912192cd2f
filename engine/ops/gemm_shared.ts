/**
 * Launch code of the workgroup-memory tiled GEMM kernels (kernels/gemm/shared_tile.wgsl and its
 * bodies): conv2d forward, input gradient, weight gradient (split-K), and matmul/gemm. Each
 * computes what its register-blocked counterpart in engine/ops/conv2d.ts / matmul.ts computes,
 * from the same uniforms; the variants are declared in CONV2D_VARIANTS.*Tiled and
 * MATMUL_VARIANTS.tiled, one per tile configuration (engine/ops/shared_tile_config.ts).
 *
 * These are candidates, not the default: the ops run today's kernels unless a variant choice
 * (the tuner, RBD_VARIANT) picks these. Every function takes an optional tile size; without it
 * the size comes from the adapter's limits and the output's shape (sharedTileConfig).
 */
import { Tensor } from '../tensor.ts';
import { dispatch, groupsFor, elementwiseWorkgroupSize, runtime } from '../runtime.ts';
import { LimitError } from '../errors.ts';
import type { KernelSpec, KernelVariant } from '../kernel.ts';
import type { EngineLimits } from '../device.ts';
import { precision as processPrecision } from '../precision.ts';
import { CONV2D_VARIANTS, convPassFlops, stridePhase, type ConvGeometry } from './conv2d.ts';
import { MATMUL_VARIANTS, type GemmOperand } from './matmul.ts';
import {
  SHARED_TILE_CONFIGS,
  sharedTileConfig,
  sharedTileConfigsFor,
  tileInvocations,
  type SharedTileConfig,
  type SharedTileSize,
  type TilePrecision,
} from './shared_tile_config.ts';

/** Whether this adapter can run any tiled configuration (its limits allow the smallest). */
export function tiledUsable(): boolean {
  return sharedTileConfigsFor(runtime().limits).length > 0;
}

/**
 * Why this adapter cannot run the workgroup-memory tiled kernels at `size` (engine/ops/gemm_shared.ts),
 * or null. They are candidates, never the rule: on lavapipe they run 5-19x slower than the
 * register-blocked kernels (bench/tiled.ts), so only a tuned cache or RBD_VARIANT selects them.
 */
export function tiledUnusable(size: SharedTileSize): string | null {
  const l = runtime().limits;
  return sharedTileConfigsFor(l).includes(size)
    ? null
    : `the ${size} tiled configuration exceeds this adapter's limits (maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup}, maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize})`;
}

/** The tile size for an M x N output on this adapter (or the one asked for, checked against the limits). */
export function tiledSize(M: number, N: number, asked?: SharedTileSize): SharedTileSize {
  const l = runtime().limits;
  if (asked) {
    if (!sharedTileConfigsFor(l).includes(asked)) {
      const c = SHARED_TILE_CONFIGS[asked];
      throw new LimitError(
        `the ${asked} tiled GEMM configuration (${tileInvocations(c)} invocations, ${c.BM}x${c.BN} tiles) exceeds this adapter's limits (maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup}, maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize}); use another size`,
      );
    }
    return asked;
  }
  const s = sharedTileConfig(l, M, N);
  if (!s)
    throw new LimitError(
      `the tiled GEMM kernels need workgroups of ${tileInvocations(SHARED_TILE_CONFIGS.small)} invocations and ${(SHARED_TILE_CONFIGS.small.BM + SHARED_TILE_CONFIGS.small.BN) * SHARED_TILE_CONFIGS.small.BK * 4} bytes of workgroup memory; this adapter allows ${l.maxComputeInvocationsPerWorkgroup} and ${l.maxComputeWorkgroupStorageSize}: use the register-blocked kernels`,
    );
  return s;
}

/** Workgroup grid of an M x N output in tiles of `c`: [column tiles, row tiles, splits]. */
function tileGrid(M: number, N: number, c: SharedTileConfig, splits = 1): [number, number, number] {
  return [Math.ceil(N / c.BN), Math.ceil(M / c.BM), splits];
}

/**
 * Invocations the default split-K aims to keep resident. WebGPU reports no compute-unit count, so
 * the target is a fixed number of invocations rather than one derived from a CPU's cores: 65536
 * is two 256-invocation workgroups on each of 128 compute units (a large discrete GPU); smaller
 * GPUs simply queue the extra workgroups. Divided by the workgroup size the adapter's limits
 * allow (tiledTargetWorkgroups), it gives the number of workgroups to aim for.
 */
export const TILED_TARGET_INVOCATIONS = 65536;

/** Reductions each split keeps at least (16 steps of a 16-deep tile), so the summing pass stays small against the GEMM. */
export const TILED_MIN_SPLIT_K = 256;

/** Workgroups the default split-K aims for on an adapter with these limits (see TILED_TARGET_INVOCATIONS). */
export function tiledTargetWorkgroups(
  l: Pick<EngineLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX' | 'maxComputeWorkgroupStorageSize'>,
): number {
  const sizes = sharedTileConfigsFor(l);
  const n = sizes.length ? tileInvocations(SHARED_TILE_CONFIGS[sizes[0]]) : 1;
  return Math.ceil(TILED_TARGET_INVOCATIONS / n);
}

/**
 * The default split count of a reduction of length K over `tiles` output tiles: enough splits to
 * reach the target workgroup count, each at least TILED_MIN_SPLIT_K long, and the partial sums
 * (splits x outputs f32) within one storage binding. A tuner may pass any other count.
 */
export function tiledSplits(K: number, tiles: number, outputs: number, l: EngineLimits): number {
  const byTarget = Math.ceil(tiledTargetWorkgroups(l) / tiles);
  const byLength = Math.floor(K / TILED_MIN_SPLIT_K);
  const byMemory = Math.floor(l.maxStorageBufferBindingSize / (4 * outputs));
  return Math.max(1, Math.min(byTarget, byLength, byMemory, l.maxComputeWorkgroupsPerDimension));
}

/** A tiled variant as a kernel spec (its constants carry the configuration; no overrides). */
function spec(variant: KernelVariant): KernelSpec {
  return { ...variant };
}

/** The precisions this adapter can stage the tiles in: 'f32' everywhere, 'f16' where it has shader-f16. */
export function tiledPrecisions(): TilePrecision[] {
  return runtime().gpu.caps.shaderF16 ? ['f32', 'f16'] : ['f32'];
}

function checkPrecision(kernel: string, precision: TilePrecision) {
  if (!tiledPrecisions().includes(precision))
    throw new LimitError(`${kernel}: ${precision} tiles need the adapter feature shader-f16, which this adapter lacks; use f32`);
}

/**
 * y = conv2d(x, w) + b by the tiled forward kernel (kernels/conv2d/forward_tiled.wgsl), its tiles
 * staged as f32, or as f16 (precision 'f16': shader-f16 only; f32 accumulation, see
 * precisionVariants for the error this costs). Default: the process-wide precision
 * (engine/precision.ts, `--precision`). The tiled backward passes are f32 only.
 */
export function conv2dForwardTiled(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  g: ConvGeometry,
  size?: SharedTileSize,
  precision: TilePrecision = processPrecision(),
): Tensor {
  checkPrecision('conv2dForwardTiled', precision);
  const M = g.O,
    N = g.batch * g.OH * g.OW;
  const s = tiledSize(M, N, size);
  const y = Tensor.empty([g.batch, g.O, g.OH, g.OW]);
  // Without a bias the kernel never reads `bias`; the weight stands in for the binding.
  dispatch(
    spec((precision === 'f16' ? CONV2D_VARIANTS.forwardTiledF16 : CONV2D_VARIANTS.forwardTiled)[s]),
    { x, w, bias: b ?? w, y },
    { ...g, has_bias: b ? 1 : 0 },
    tileGrid(M, N, SHARED_TILE_CONFIGS[s]),
    convPassFlops(g) + (b ? y.size : 0),
  );
  return y;
}

/**
 * dL/dx by the tiled input-gradient kernel (kernels/conv2d/backward_input_tiled.wgsl): one
 * dispatch per stride phase (stridePhase in engine/ops/conv2d.ts), any stride, padding, dilation.
 */
export function conv2dBackwardInputTiled(dy: Tensor, w: Tensor, g: ConvGeometry, size?: SharedTileSize): Tensor {
  const dx = Tensor.empty([g.batch, g.C, g.H, g.W]);
  let flops = convPassFlops(g);
  for (let rh = 0; rh < g.stride_h; rh++) {
    const ph = stridePhase(g.H, g.KH, g.stride_h, g.pad_h, g.dil_h, rh);
    for (let rw = 0; rw < g.stride_w; rw++) {
      const pw = stridePhase(g.W, g.KW, g.stride_w, g.pad_w, g.dil_w, rw);
      const N = g.batch * ph.count * pw.count;
      if (N === 0) continue;
      const s = tiledSize(g.C, N, size);
      dispatch(
        spec(CONV2D_VARIANTS.backwardInputTiled[s]),
        { dy, w, dx },
        {
          batch: g.batch,
          C: g.C,
          H: g.H,
          W: g.W,
          O: g.O,
          OH: g.OH,
          OW: g.OW,
          KH: g.KH,
          KW: g.KW,
          stride_h: g.stride_h,
          stride_w: g.stride_w,
          ih_first: ph.first,
          iw_first: pw.first,
          QH: ph.count,
          QW: pw.count,
          kh0: ph.k0,
          kw0: pw.k0,
          kh_step: ph.kStep,
          kw_step: pw.kStep,
          NKH: ph.taps,
          NKW: pw.taps,
          oh0: ph.o0,
          ow0: pw.o0,
          oh_step: ph.oStep,
          ow_step: pw.oStep,
        },
        tileGrid(g.C, N, SHARED_TILE_CONFIGS[s]),
        flops,
      );
      flops = 0;
    }
  }
  return dx;
}

/**
 * The default split count of the tiled weight gradient of g at a tile size (what
 * conv2dBackwardWeightTiled uses when `splits` is not given).
 */
export function conv2dBackwardWeightTiledSplits(g: ConvGeometry, size?: SharedTileSize): number {
  const M = g.O,
    N = g.C * g.KH * g.KW;
  const s = tiledSize(M, N, size);
  const [gx, gy] = tileGrid(M, N, SHARED_TILE_CONFIGS[s]);
  return tiledSplits(g.batch * g.OH * g.OW, gx * gy, M * N, runtime().limits);
}

/**
 * Split counts worth timing for the tiled weight gradient of g (for a tuner): no split, the
 * default, and powers of two from 2 up to twice the default, each kept only if every split
 * still has at least one BK step of its own. Sorted, distinct.
 */
export function conv2dBackwardWeightTiledSplitCandidates(g: ConvGeometry, size?: SharedTileSize): number[] {
  const M = g.O,
    N = g.C * g.KH * g.KW,
    K = g.batch * g.OH * g.OW;
  const s = tiledSize(M, N, size);
  const fallback = conv2dBackwardWeightTiledSplits(g, s);
  const most = Math.min(Math.ceil(K / SHARED_TILE_CONFIGS[s].BK), runtime().limits.maxComputeWorkgroupsPerDimension);
  const out = new Set([1, fallback]);
  for (let n = 2; n <= 2 * fallback && n <= most; n *= 2) out.add(n);
  return [...out].filter((n) => n <= most).sort((a, b) => a - b);
}

/**
 * dL/dw by the tiled weight-gradient kernel (kernels/conv2d/backward_weight_tiled.wgsl), its
 * reduction (batch x map) split `splits` ways (default: conv2dBackwardWeightTiledSplits); the
 * partial sums are added in a fixed order by conv2dBackwardWeightSum (gemm/split_k_sum.wgsl).
 */
export function conv2dBackwardWeightTiled(x: Tensor, dy: Tensor, g: ConvGeometry, splits?: number, size?: SharedTileSize): Tensor {
  const M = g.O,
    N = g.C * g.KH * g.KW,
    K = g.batch * g.OH * g.OW;
  const s = tiledSize(M, N, size);
  const c = SHARED_TILE_CONFIGS[s];
  const asked = splits ?? conv2dBackwardWeightTiledSplits(g, s);
  if (!Number.isInteger(asked) || asked < 1) throw new LimitError(`conv2dBackwardWeightTiled: splits ${asked} must be a whole number >= 1`);
  // Each split a whole number of BK steps; the count actually needed may then be smaller.
  const kSplit = Math.ceil(Math.ceil(K / asked) / c.BK) * c.BK;
  const n = Math.ceil(K / kSplit);
  const dw = Tensor.empty([g.O, g.C, g.KH, g.KW]);
  const uniforms = { ...g, k_split: kSplit };
  const variant = spec(CONV2D_VARIANTS.backwardWeightTiled[s]);
  if (n === 1) {
    dispatch(variant, { x, dy, out: dw }, uniforms, tileGrid(M, N, c), convPassFlops(g));
    return dw;
  }
  const partial = Tensor.empty([n, M * N]);
  dispatch(variant, { x, dy, out: partial }, uniforms, tileGrid(M, N, c, n), convPassFlops(g));
  const wg = elementwiseWorkgroupSize();
  dispatch(
    { ...CONV2D_VARIANTS.backwardWeightSum, overrides: { WG: wg } },
    { partial, out: dw },
    { n: M * N, splits: n },
    groupsFor(M * N, wg),
  );
  partial.dispose();
  return dw;
}

/**
 * c = op(a) op(b) (+ bias[n] on every row) by the tiled GEMM (kernels/gemm/matmul_tiled.wgsl),
 * as `gemm` in engine/ops/matmul.ts: op(t) is t or t^T read through strides; 2*M*N*K FLOPs
 * (+ M*N for the bias). Tiles staged as f32, or f16 (precision 'f16', shader-f16 only); default:
 * the process-wide precision (engine/precision.ts). Shapes are the caller's to check.
 */
export function gemmTiled(
  a: GemmOperand,
  b: GemmOperand,
  bias: Tensor | null = null,
  size?: SharedTileSize,
  precision: TilePrecision = processPrecision(),
): Tensor {
  checkPrecision('gemmTiled', precision);
  const [ar, ac] = a.t.shape;
  const [br, bc] = b.t.shape;
  const [M, K] = a.transposed ? [ac, ar] : [ar, ac];
  const N = b.transposed ? br : bc;
  const s = tiledSize(M, N, size);
  const c = Tensor.empty([M, N]);
  dispatch(
    spec((precision === 'f16' ? MATMUL_VARIANTS.tiledF16 : MATMUL_VARIANTS.tiled)[s]),
    { a: a.t, b: b.t, bias: bias ?? b.t, c },
    {
      M,
      N,
      K,
      has_bias: bias ? 1 : 0,
      a_sm: a.transposed ? 1 : K,
      a_sk: a.transposed ? M : 1,
      b_sk: b.transposed ? 1 : N,
      b_sn: b.transposed ? K : 1,
    },
    tileGrid(M, N, SHARED_TILE_CONFIGS[s]),
    2 * M * N * K + (bias ? M * N : 0),
  );
  return c;
}

/** The passes a precision choice replaces (see precisionVariants). */
export interface PrecisionPasses {
  precision: TilePrecision;
  conv2dForward: (x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry) => Tensor;
  gemm: (a: GemmOperand, b: GemmOperand, bias: Tensor | null) => Tensor;
}

/**
 * The hook for an opt-in precision (`--precision f16`): the conv forward and GEMM launchers that
 * stage their tiles in `precision`, for the caller to run in place of conv2dForward / gemm.
 * 'f32' gives the f32-tiled kernels (the same results as the register-blocked ones up to
 * summation order). 'f16' needs shader-f16 (tiledPrecisions() says whether this adapter has it;
 * a LimitError names the feature otherwise): every operand value is rounded to f16 once as it is
 * staged (relative error at most u = 2^-11; values below f16's normal range 2^-14 lose up to
 * 2^-25 absolutely) and the products are accumulated in f32, so an output of a length-n
 * reduction is off by at most about 2u * sum_k |a_k b_k| + the f32 bound (engine/check.ts
 * TOL.forLength(n)); test/ops/tiled_f16.test.ts checks exactly that bound and prints the worst
 * error per kernel. The backward passes stay f32.
 */
export function precisionVariants(precision: TilePrecision): PrecisionPasses {
  checkPrecision('precisionVariants', precision);
  return {
    precision,
    conv2dForward: (x, w, b, g) => conv2dForwardTiled(x, w, b, g, undefined, precision),
    gemm: (a, b, bias) => gemmTiled(a, b, bias, undefined, precision),
  };
}
