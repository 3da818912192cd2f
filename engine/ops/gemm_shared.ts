/**
 * What the workgroup-memory tiled GEMM kernels (kernels/gemm/shared_tile.wgsl and its bodies)
 * share: which tile size an adapter's limits allow, grids, split-K counts, staging precisions.
 * Their launchers live with their ops (conv2dForwardTiled, conv2dBackwardInputTiled,
 * conv2dBackwardWeightTiled in engine/ops/conv2d.ts; gemmTiled in matmul.ts), each computing what
 * its register-blocked counterpart computes from the same uniforms; the variants are declared in
 * CONV2D_VARIANTS.*Tiled and MATMUL_VARIANTS.tiled, one per tile configuration
 * (engine/ops/shared_tile_config.ts).
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
import type { Candidate } from '../variant_choice.ts';
import {
  SHARED_TILE_CONFIGS,
  SHARED_TILE_SIZES,
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

/** A selection point's tiled candidates, one per tile size (`tiled-<size>`): `launch(size)` runs the tiled kernel at that size. */
export function tiledCandidates<G, L>(kernel: string, launch: (size: SharedTileSize) => L): Candidate<G, L>[] {
  return SHARED_TILE_SIZES.map((size) => ({
    name: `tiled-${size}`,
    unusable: () => tiledUnusable(size),
    params: { kernel, size },
    launch: launch(size),
  }));
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
export function tileGrid(M: number, N: number, c: SharedTileConfig, splits = 1): [number, number, number] {
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
export function tiledSpec(variant: KernelVariant): KernelSpec {
  return { ...variant };
}

/** The precisions this adapter can stage the tiles in: 'f32' everywhere, 'f16' where it has shader-f16. */
export function tiledPrecisions(): TilePrecision[] {
  return runtime().gpu.caps.shaderF16 ? ['f32', 'f16'] : ['f32'];
}

/** Throws a LimitError naming `kernel` where this adapter cannot stage tiles in `precision`. */
export function checkTiledPrecision(kernel: string, precision: TilePrecision) {
  if (!tiledPrecisions().includes(precision))
    throw new LimitError(`${kernel}: ${precision} tiles need the adapter feature shader-f16, which this adapter lacks; use f32`);
}
