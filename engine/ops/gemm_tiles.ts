/**
 * Launch configuration of the register-blocked GEMM kernels (kernels/gemm_tile.wgsl: conv2d
 * forward and backward, matmul). Each invocation computes an 8 x 8 block of the output; a
 * workgroup of WG_N x WG_M invocations covers an (8*WG_M) x (8*WG_N) tile.
 *
 * Chosen from the device limits, first fit:
 *  - 16 x 4 invocations (32 x 128 tiles): 64 invocations fit every adapter, including
 *    compatibility ones, and use no workgroup memory. Wide along N (pixels, the long side of
 *    every conv GEMM) so neighbouring invocations read neighbouring input values. Measured on
 *    lavapipe (2 cores shared with other work, 1024^3 matmul, GFLOP per CPU-second of the
 *    process, noisy): 8x8 blocks in 16x4 workgroups 2.5-3.5; 8x8 in 8x8 2.3; 4x8 in 8x8 2.4;
 *    8x8 in 64x1 1.6-3.3 (no clear gain); 4x4 blocks staged through 64x64 workgroup-memory
 *    tiles (16x16 invocations, BK 16) 0.8; 8x8 blocks staged through 64x64 tiles 1.6-1.8.
 *  - 8 x 8 and 8 x 4 for adapters whose per-dimension limits are smaller.
 * The values are override constants, part of the pipeline key; shapes never are.
 */
import { runtime } from '../runtime.ts';
import { LimitError } from '../errors.ts';

export interface GemmTiles {
  /** Invocations along the output rows (M) and columns (N). */
  WG_M: number;
  WG_N: number;
}

/** Output rows and columns per invocation (fixed in gemm_tile.wgsl). */
export const GEMM_BLOCK = 8;

const CANDIDATES: GemmTiles[] = [
  { WG_M: 4, WG_N: 16 },
  { WG_M: 8, WG_N: 8 },
  { WG_M: 4, WG_N: 8 },
];

/** The first tile configuration this device's limits allow. */
export function gemmTiles(): GemmTiles {
  const l = runtime().limits;
  for (const t of CANDIDATES) {
    if (t.WG_M * t.WG_N <= l.maxComputeInvocationsPerWorkgroup && t.WG_N <= l.maxComputeWorkgroupSizeX && t.WG_M <= l.maxComputeWorkgroupSizeY) return t;
  }
  throw new LimitError(`the GEMM kernels need workgroups of at least 8 x 4 invocations; this adapter allows ${l.maxComputeInvocationsPerWorkgroup} invocations (x ${l.maxComputeWorkgroupSizeX}, y ${l.maxComputeWorkgroupSizeY})`);
}

/** Override constants for a GEMM kernel spec. */
export function gemmOverrides(t: GemmTiles = gemmTiles()): Record<string, number> {
  return { WG_M: t.WG_M, WG_N: t.WG_N };
}

/** Workgroup grid covering an M x N output: [column tiles, row tiles, splits]. */
export function gemmGroups(M: number, N: number, t: GemmTiles, splits = 1): [number, number, number] {
  return [Math.ceil(N / (GEMM_BLOCK * t.WG_N)), Math.ceil(M / (GEMM_BLOCK * t.WG_M)), splits];
}
