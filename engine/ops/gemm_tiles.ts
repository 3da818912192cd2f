/**
 * Launch configuration of the register-blocked GEMM kernels (kernels/gemm_tile.wgsl: conv2d
 * forward and backward, matmul). A workgroup of WG invocations (1-D) owns a tile of
 * GEMM_ROWS x (WG * GEMM_BLOCK) outputs: the GEMM_ROWS = 16 rows are shared by the whole
 * workgroup and each invocation owns GEMM_BLOCK = 8 columns (strided by WG).
 *
 * Two variants of every kernel, picked here:
 *  - with subgroups (adapter feature 'subgroups', every subgroup at least 8 invocations): the 16
 *    row values of each reduction step are loaded 2 per invocation and handed out with subgroup
 *    shuffles (kernels/gemm_rows_subgroup.wgsl);
 *  - without: every invocation loads the 16 values itself (kernels/gemm_rows_invocation.wgsl).
 * (The conv row kernels, kernels/conv2d_forward_row.wgsl and conv2d_backward_weight_row.wgsl,
 * exist only with subgroups: engine/ops/conv2d.ts falls back to the general kernels without.)
 *
 * Why (measured on lavapipe in one process, 512^3 matmul, GFLOP per CPU-second, best of 2,
 * machine loaded): lavapipe fetches every storage-buffer value lane by lane (tens of
 * instructions each) while one vector instruction does 8 multiply-adds, so multiply-adds per
 * load decide everything. The former 8x8 blocks in 16x4 workgroups (16 loads per 64 FMA):
 * 2.1-4.5; vec4 loads did not help (1.5-2.7: lavapipe fetches each component apart); 16x16
 * blocks 1.8 (spills); rows shared by the workgroup but loaded per invocation 0.9-2.1;
 * subgroup-shared rows (explicitly unrolled test kernels): 8x8 4.5, 8x16 2.0, 16x8 8.8-9.4,
 * 16x16 2.9, 24x8 6.2, 32x8 8.4, 16x4 6.6, 32x4 8.0; 16x8 in workgroups of 32 / 64 / 128:
 * 10.0 / 8.8 / 5.2. In these kernels (loops, not unrolled by hand) 32x8 fell to ~1 (the
 * accumulators leave registers), so 16x8 it is. The conv passes on the model's 3x3 layers
 * (rbd bench kernels, batch 8) went from 1.1-2.1 GFLOP per CPU-second with the 8x8 blocks to
 * 4.2-9.8 (the spread is the machine's load).
 * Workgroups: 64 invocations by default (within every adapter's limits, compatibility included,
 * and a full wave on common GPUs); 32, 16 or 8 where the output is narrow (see gemmTiles) or the
 * adapter allows no more. WG is an override constant, part of the pipeline key; shapes never are.
 */
import { runtime } from '../runtime.ts';
import { LimitError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';

export interface GemmTiles {
  /** Invocations along the output rows (always 1: the workgroup shares its rows) and columns. */
  WG_M: number;
  WG_N: number;
  /** Whether the kernels share row values through subgroup operations. */
  subgroups: boolean;
}

/** Output columns per invocation (TN in gemm_tile.wgsl). */
export const GEMM_BLOCK = 8;
/** Output rows per workgroup (TM in gemm_tile.wgsl). */
export const GEMM_ROWS = 16;

/**
 * Workgroup sizes, largest first: 64 where allowed, narrower tiles for narrow outputs. 8 (one
 * subgroup of the smallest size the row sharing accepts) makes 64-wide tiles, which fit the weight
 * gradients of 3x3 layers: 288 columns (32 channels) leave 10% of five 64-wide tiles idle against
 * 25% of three 128-wide ones; 576 columns (64 channels) fill nine exactly. Measured on lavapipe
 * (batch 8, this machine, wall clock very noisy; same process, alternating, median of 5 rounds in
 * GFLOP per CPU-second): conv2dBackwardWeight 32ch@64x64 3.01 -> 3.15, 64ch@32x32 3.24 -> 4.42;
 * in separate runs 32ch@64x64 went from 5.2-5.9 to 6.4-7.8 GFLOP/s wall clock.
 */
const WORKGROUP_SIZES = [64, 32, 16, 8];

/** Subgroups of at least 8 invocations: lane s % 8 fetches row s % 8 (gemm_rows_subgroup.wgsl). */
function subgroupsUsable(): boolean {
  const gpu = runtime().gpu;
  const info = gpu.adapter.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number };
  return gpu.caps.subgroups && (info.subgroupMinSize ?? 0) >= 8;
}

/**
 * The tile configuration for an output `columns` wide (N) on this device: the workgroup size that
 * leaves the fewest idle columns in the last tile, the largest on ties. Idle columns cost as much
 * as real ones, and some outputs are narrow: the weight gradient of a 3x3 layer with 32 input
 * channels is 288 wide, which fills 56% of a 512-wide tile, 75% of three 128-wide ones and 90%
 * of five 64-wide ones. At most four pipelines per kernel; the shapes themselves stay in uniforms.
 */
export function gemmTiles(columns = Infinity): GemmTiles {
  const l = runtime().limits;
  const allowed = WORKGROUP_SIZES.filter((n) => n <= l.maxComputeInvocationsPerWorkgroup && n <= l.maxComputeWorkgroupSizeX);
  if (!allowed.length) {
    throw new LimitError(`the GEMM kernels need workgroups of at least ${WORKGROUP_SIZES.at(-1)} invocations; this adapter allows ${l.maxComputeInvocationsPerWorkgroup} (x ${l.maxComputeWorkgroupSizeX})`);
  }
  const idle = (wg: number) => (Number.isFinite(columns) ? Math.ceil(columns / (GEMM_BLOCK * wg)) * GEMM_BLOCK * wg - columns : 0);
  const wg = allowed.reduce((best, n) => (idle(n) < idle(best) ? n : best));
  return { WG_M: 1, WG_N: wg, subgroups: subgroupsUsable() };
}

/**
 * The kernel spec of one GEMM kernel (`base`: its body file in kernels/, without .wgsl), plus any
 * override constants of its own.
 */
export function gemmSpec(name: string, base: string, t: GemmTiles = gemmTiles(), overrides: Record<string, number> = {}): KernelSpec {
  return { name, file: `${base}_${t.subgroups ? 'with' : 'without'}_subgroups.wgsl`, overrides: { WG: t.WG_N, ...overrides } };
}

/** Workgroup grid covering an M x N output: [column tiles, row tiles, splits]. */
export function gemmGroups(M: number, N: number, t: GemmTiles, splits = 1): [number, number, number] {
  return [Math.ceil(N / (GEMM_BLOCK * t.WG_N)), Math.ceil(M / GEMM_ROWS), splits];
}
