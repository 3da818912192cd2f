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
 *
 * Why (measured on lavapipe in one process, 512^3 matmul, GFLOP per CPU-second, best of 2,
 * machine loaded): lavapipe fetches every storage-buffer value lane by lane (tens of
 * instructions each) while one vector instruction does 8 multiply-adds, so multiply-adds per
 * load decide everything. The former 8x8 blocks in 16x4 workgroups (16 loads per 64 FMA):
 * 2.1-4.5; vec4 loads did not help (1.5-2.7: lavapipe fetches each component apart); 16x16
 * blocks 1.8 (spills); rows shared by the workgroup but loaded per invocation 0.9-2.1;
 * subgroup-shared rows: 8x8 4.5, 8x16 2.0, 16x8 8.8-9.4, 16x16 2.9, 24x8 6.2, 32x8 8.4,
 * 16x4 6.6, 32x4 8.0; 16x8 in workgroups of 32 / 64 / 128: 10.0 / 8.8 / 5.2.
 * 64 invocations: within every adapter's limits (compatibility included), a multiple of every
 * subgroup size up to 64, and a full wave on common GPUs; 32 where an adapter allows no more.
 * WG is an override constant, part of the pipeline key; shapes never are.
 */
import { runtime } from '../runtime.ts';
import { LimitError } from '../errors.ts';

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

const WORKGROUP_SIZES = process.env.GEMMWG ? [Number(process.env.GEMMWG)] : [64, 32];

/** Subgroups of at least 8 invocations: lane s % 8 fetches row s % 8 (gemm_rows_subgroup.wgsl). */
function subgroupsUsable(): boolean {
  const gpu = runtime().gpu;
  const info = gpu.adapter.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number };
  return gpu.caps.subgroups && (info.subgroupMinSize ?? 0) >= 8;
}

/** The tile configuration for this device. */
export function gemmTiles(): GemmTiles {
  const l = runtime().limits;
  const wg = WORKGROUP_SIZES.find((n) => n <= l.maxComputeInvocationsPerWorkgroup && n <= l.maxComputeWorkgroupSizeX);
  if (wg === undefined) {
    throw new LimitError(`the GEMM kernels need workgroups of at least 32 invocations; this adapter allows ${l.maxComputeInvocationsPerWorkgroup} (x ${l.maxComputeWorkgroupSizeX})`);
  }
  return { WG_M: 1, WG_N: wg, subgroups: subgroupsUsable() };
}

/** The kernel spec of one GEMM kernel (`base`: its body file in kernels/, without .wgsl). */
export function gemmSpec(name: string, base: string, t: GemmTiles = gemmTiles()) {
  return { name, file: `${base}_${t.subgroups ? 'with' : 'without'}_subgroups.wgsl`, overrides: { WG: t.WG_N } };
}

/** Workgroup grid covering an M x N output: [column tiles, row tiles, splits]. */
export function gemmGroups(M: number, N: number, t: GemmTiles, splits = 1): [number, number, number] {
  return [Math.ceil(N / (GEMM_BLOCK * t.WG_N)), Math.ceil(M / GEMM_ROWS), splits];
}
