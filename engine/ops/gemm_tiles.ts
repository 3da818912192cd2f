/**
 * Tile configuration of the GEMM-shaped kernels (kernels/gemm_tile.wgsl: conv2d forward and
 * backward, matmul). A workgroup of WG_N x WG_M invocations computes a (4*WG_M) x (4*WG_N)
 * output tile, each invocation a 4 x 4 register block, stepping through the reduction in slices
 * of BK staged in workgroup memory ((BM + BN) * BK floats).
 *
 * Chosen once from the device limits, largest first:
 *  - 16 x 16 invocations, BK 16: 64 x 64 tiles, 8 KiB of workgroup memory. 256 invocations fit
 *    every core adapter; on lavapipe this beat 8 x 8 and 16 x 16 with BK 32 (see bench/kernels.ts).
 *  - smaller fallbacks for adapters that allow fewer invocations or less workgroup memory
 *    (compatibility adapters may allow 128 invocations and 16 KiB).
 * The values are override constants, part of the pipeline key; shapes never are.
 */
import { runtime } from '../runtime.ts';
import { LimitError } from '../errors.ts';

export interface GemmTiles {
  /** Invocations along the output rows (M) and columns (N). */
  WG_M: number;
  WG_N: number;
  /** Reduction slice staged per step. */
  BK: number;
}

/** Output rows/columns per invocation (fixed in gemm_tile.wgsl: one vec4). */
export const GEMM_BLOCK = 4;

const CANDIDATES: GemmTiles[] = [
  { WG_M: 16, WG_N: 16, BK: 16 },
  { WG_M: 8, WG_N: 16, BK: 16 },
  { WG_M: 8, WG_N: 8, BK: 16 },
  { WG_M: 8, WG_N: 8, BK: 8 },
];

/** The largest tile configuration this device's limits allow. */
export function gemmTiles(): GemmTiles {
  const l = runtime().limits;
  for (const t of CANDIDATES) {
    const shared = (GEMM_BLOCK * t.WG_M + GEMM_BLOCK * t.WG_N) * t.BK * 4;
    if (t.WG_M * t.WG_N <= l.maxComputeInvocationsPerWorkgroup && t.WG_N <= l.maxComputeWorkgroupSizeX &&
        t.WG_M <= l.maxComputeWorkgroupSizeY && shared <= l.maxComputeWorkgroupStorageSize) return t;
  }
  throw new LimitError(`the GEMM kernels need at least 64 invocations and 2 KiB of workgroup memory per workgroup; this adapter allows ${l.maxComputeInvocationsPerWorkgroup} invocations and ${l.maxComputeWorkgroupStorageSize} bytes`);
}

/** Override constants for a GEMM kernel spec. */
export function gemmOverrides(t: GemmTiles = gemmTiles()): Record<string, number> {
  return { WG_M: t.WG_M, WG_N: t.WG_N, BK: t.BK };
}

/** Workgroup grid covering an M x N output: [column tiles, row tiles, splits]. */
export function gemmGroups(M: number, N: number, t: GemmTiles, splits = 1): [number, number, number] {
  return [Math.ceil(N / (GEMM_BLOCK * t.WG_N)), Math.ceil(M / (GEMM_BLOCK * t.WG_M)), splits];
}
