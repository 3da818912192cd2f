/**
 * Configurations and variants of the workgroup-memory tiled GEMM kernels (kernels/gemm/
 * shared_tile.wgsl and the bodies on it: conv2d forward and both backward passes, matmul).
 * A configuration is the tile BM x BN, the reduction step BK staged per barrier pair and the
 * register block RM x RN per invocation; (BM / RM) * (BN / RN) invocations per workgroup. They
 * are injected into the WGSL as constants by the variant tables (CONV2D_VARIANTS.*Tiled,
 * MATMUL_VARIANTS.tiled), one variant per body and configuration.
 *
 * Which configuration an adapter runs is read from its limits (device.limits), never from its
 * name: `sharedTileConfigsFor` keeps those whose invocations and workgroup memory fit, and
 * `sharedTileConfig` picks among them for an output size. The launch code is in
 * engine/ops/gemm_shared.ts; this file imports no op, so the op files can build their variant
 * tables from it.
 */
import type { KernelVariant } from '../kernel.ts';
import type { EngineLimits } from '../device.ts';

/** One tiled-GEMM configuration (all powers of two; see the file comment). */
export interface SharedTileConfig {
  BM: number;
  BN: number;
  BK: number;
  RM: number;
  RN: number;
}

/**
 * Largest first. 'large': 64 x 64 tiles, 16-deep steps, 4 x 4 blocks (16 accumulators: registers
 * stay low enough for full occupancy), 256 invocations, 8 KiB of f32 tiles. 'small': 32 x 32
 * tiles for 64 invocations and 4 KiB, for adapters allowing fewer invocations or less workgroup
 * memory, and for outputs too small to fill 64 x 64 tiles.
 */
export const SHARED_TILE_CONFIGS = {
  large: { BM: 64, BN: 64, BK: 16, RM: 4, RN: 4 },
  small: { BM: 32, BN: 32, BK: 16, RM: 4, RN: 4 },
} as const satisfies Record<string, SharedTileConfig>;

export type SharedTileSize = keyof typeof SHARED_TILE_CONFIGS;
export const SHARED_TILE_SIZES = Object.keys(SHARED_TILE_CONFIGS) as SharedTileSize[];

/** Element type the tiles are staged in: f32 everywhere; f16 (f32 accumulation) with shader-f16. */
export type TilePrecision = 'f32' | 'f16';

/** Invocations per workgroup of a configuration. */
export function tileInvocations(c: SharedTileConfig): number {
  return (c.BM / c.RM) * (c.BN / c.RN);
}

/** Workgroup memory of a configuration's two tiles, in bytes. */
export function tileStorageBytes(c: SharedTileConfig, precision: TilePrecision = 'f32'): number {
  return (c.BM + c.BN) * c.BK * (precision === 'f16' ? 2 : 4);
}

/** The configurations these limits allow, largest first (f32 staging: the larger need, so it fits f16 too). */
export function sharedTileConfigsFor(
  l: Pick<EngineLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX' | 'maxComputeWorkgroupStorageSize'>,
): SharedTileSize[] {
  return SHARED_TILE_SIZES.filter((s) => {
    const c = SHARED_TILE_CONFIGS[s];
    const n = tileInvocations(c);
    return (
      n <= l.maxComputeInvocationsPerWorkgroup && n <= l.maxComputeWorkgroupSizeX && tileStorageBytes(c) <= l.maxComputeWorkgroupStorageSize
    );
  });
}

/**
 * Largest idle fraction of computed outputs (tile padding past M or N) a larger configuration
 * may leave before a smaller one is preferred: a 64 x 64 tiling of a 20 x 2000 output computes
 * 69% padding, a 32 x 32 one 38%.
 */
const MAX_IDLE_FRACTION = 0.25;

function idleFraction(c: SharedTileConfig, M: number, N: number): number {
  const padded = Math.ceil(M / c.BM) * c.BM * Math.ceil(N / c.BN) * c.BN;
  return 1 - (M * N) / padded;
}

/**
 * The configuration for an M x N output on an adapter with these limits: the largest allowed one
 * that leaves at most MAX_IDLE_FRACTION of its outputs idle, else the allowed one that leaves the
 * fewest (the smaller on ties). Null when none fits (tiledUsable() is then false).
 */
export function sharedTileConfig(
  l: Pick<EngineLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX' | 'maxComputeWorkgroupStorageSize'>,
  M = Infinity,
  N = Infinity,
): SharedTileSize | null {
  const allowed = sharedTileConfigsFor(l);
  if (!allowed.length) return null;
  if (!Number.isFinite(M) || !Number.isFinite(N)) return allowed[0];
  const fitting = allowed.find((s) => idleFraction(SHARED_TILE_CONFIGS[s], M, N) <= MAX_IDLE_FRACTION);
  if (fitting) return fitting;
  return allowed.reduce((best, s) =>
    idleFraction(SHARED_TILE_CONFIGS[s], M, N) <= idleFraction(SHARED_TILE_CONFIGS[best], M, N) ? s : best,
  );
}

/** A tiled body at one configuration and staging precision: its variant (name suffixed by tile size, and F16 for f16 staging). */
export function sharedTileVariant(name: string, file: string, size: SharedTileSize, precision: TilePrecision = 'f32'): KernelVariant {
  const c = SHARED_TILE_CONFIGS[size];
  return {
    name: `${name}${c.BM}x${c.BN}${precision === 'f16' ? 'F16' : ''}`,
    file,
    includes: [precision === 'f16' ? 'gemm/shared_tile_f16.wgsl' : 'gemm/shared_tile_f32.wgsl'],
    constants: { ...c },
    features: precision === 'f16' ? ['shader-f16'] : [],
  };
}

/** A tiled body in every configuration, keyed by size, its tiles staged in `precision`. */
export function sharedTileVariants(name: string, file: string, precision: TilePrecision = 'f32'): Record<SharedTileSize, KernelVariant> {
  return { large: sharedTileVariant(name, file, 'large', precision), small: sharedTileVariant(name, file, 'small', precision) };
}
