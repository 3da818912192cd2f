/**
 * Launch configuration and variants of the register-blocked GEMM kernels (kernels/gemm/tile.wgsl:
 * conv2d forward and backward, matmul). A workgroup of WG invocations (1-D) owns a tile of
 * TM x (WG * TN) outputs: the TM = 16 rows are shared by the whole workgroup and each invocation
 * owns TN = 8 columns (strided by WG). TM and TN are declared once, in GEMM_CONSTANTS, and
 * injected into every GEMM variant's WGSL.
 *
 * Two row sharings of every GEMM body, picked here:
 *  - 'subgroups' (adapter feature 'subgroups', every subgroup at least 8 invocations): the 16
 *    row values of each reduction step are loaded 2 per invocation and handed out with subgroup
 *    shuffles (kernels/gemm/rows_subgroup.wgsl);
 *  - 'invocation': every invocation loads the 16 values itself (kernels/gemm/rows_invocation.wgsl).
 * And two operand precisions (engine/precision.ts): f32, and f16 where the adapter has
 * 'shader-f16' and the runtime precision is 'f16' (kernels/gemm/operand_*.wgsl); gemmTiles
 * returns the key of the general variant to run.
 * (The conv row kernels exist only with subgroups: engine/ops/conv2d.ts falls back to the
 * general kernels without.)
 *
 * Why 16 x 8 blocks with shared rows: lavapipe fetches every storage-buffer value lane by lane
 * (tens of instructions each) while one vector instruction does 8 multiply-adds, so multiply-adds
 * per load decide everything there; 16 x 8 keeps 128 accumulators per invocation, about what a
 * CPU's vector registers and stack absorb (larger blocks spill and their loops stop unrolling).
 * The measurements behind this are in the commits that chose it and in `rbd bench kernels`.
 * Workgroups: 64 invocations by default (within every adapter's limits, compatibility included,
 * and a full wave on common GPUs); 32, 16 or 8 where the output is narrow (see gemmTiles) or the
 * adapter allows no more. WG is an override constant, part of the pipeline key; shapes never are.
 */
import { runtime } from '../runtime.ts';
import { LimitError } from '../errors.ts';
import type { KernelFeature, KernelSpec, KernelVariant } from '../kernel.ts';
import { precision, type Precision } from '../precision.ts';

/** Rows per workgroup (TM) and columns per invocation (TN): the one source of both, injected into the WGSL. */
export const GEMM_CONSTANTS = { TM: 16, TN: 8 } as const;

/** How a GEMM variant shares the TM row values of each reduction step (see the file comment). */
export type RowSharing = 'subgroups' | 'invocation';
export const ROW_SHARINGS: readonly RowSharing[] = ['subgroups', 'invocation'];

/** The snippet and the features of each row sharing. */
const SHARING: Record<RowSharing, Pick<KernelVariant, 'includes' | 'features'>> = {
  subgroups: { includes: ['gemm/rows_subgroup.wgsl'], features: ['subgroups'] },
  invocation: { includes: ['gemm/rows_invocation.wgsl'], features: [] },
};

/**
 * The operand snippet and the features of each precision (engine/precision.ts): the type in which
 * the A and B values of a reduction step are staged (kernels/gemm/operand_*.wgsl).
 */
const OPERAND: Record<Precision, { includes: string[]; features: KernelFeature[] }> = {
  f32: { includes: ['gemm/operand_f32.wgsl'], features: [] },
  f16: { includes: ['gemm/operand_f16.wgsl'], features: ['shader-f16'] },
};

/** A GEMM variant: its constants (TM, TN and its own) always present. */
export type GemmVariant = KernelVariant & { constants: Readonly<Record<string, number>> };

/**
 * A GEMM variant: `file` compiled after the operand snippet of `precision` and the row-sharing
 * snippet, with TM, TN and `constants` injected. f16 variants are named `${name}F16`.
 */
export function gemmVariant(
  name: string,
  file: string,
  sharing: RowSharing,
  constants: Record<string, number> = {},
  precision: Precision = 'f32',
): GemmVariant {
  return {
    name: precision === 'f16' ? `${name}F16` : name,
    file,
    includes: [...OPERAND[precision].includes, ...SHARING[sharing].includes!],
    features: [...SHARING[sharing].features!, ...OPERAND[precision].features],
    constants: { ...GEMM_CONSTANTS, ...constants },
  };
}

/** Which general GEMM variant runs: the row sharing, with 'F16' appended at precision f16. */
export type GemmKey = RowSharing | `${RowSharing}F16`;

/** A GEMM body in both row sharings and both precisions, keyed by GemmKey. */
export function gemmVariants(name: string, file: string): Record<GemmKey, GemmVariant> {
  return {
    subgroups: gemmVariant(name, file, 'subgroups'),
    invocation: gemmVariant(name, file, 'invocation'),
    subgroupsF16: gemmVariant(name, file, 'subgroups', {}, 'f16'),
    invocationF16: gemmVariant(name, file, 'invocation', {}, 'f16'),
  };
}

export interface GemmTiles {
  /** Invocations along the output rows (always 1: the workgroup shares its rows) and columns. */
  WG_M: number;
  WG_N: number;
  /** How the row values are shared. */
  sharing: RowSharing;
  /** The general GEMM variant to run: the sharing at the runtime precision (engine/precision.ts). */
  key: GemmKey;
}

/**
 * Workgroup sizes, largest first: 64 where allowed, narrower tiles for narrow outputs. 8 (one
 * subgroup of the smallest size the row sharing accepts) makes 64-wide tiles, which fit the weight
 * gradients of 3x3 layers: 288 columns (32 channels) leave 10% of five 64-wide tiles idle against
 * 25% of three 128-wide ones; 576 columns (64 channels) fill nine exactly.
 */
const WORKGROUP_SIZES = [64, 32, 16, 8];

/** Subgroups of at least 8 invocations: lane s % 8 fetches row s % 8 (gemm/rows_subgroup.wgsl). */
function subgroupsUsable(): boolean {
  const gpu = runtime().gpu;
  const info = gpu.adapter.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number };
  return gpu.caps.subgroups && (info.subgroupMinSize ?? 0) >= 8;
}

let forcedSharing: RowSharing | null = null;

/**
 * Run `fn` with every GEMM kernel in the given row sharing (tests: the 'invocation' variants on
 * an adapter that has subgroups). Throws if the adapter cannot run it.
 */
export function withRowSharing<T>(sharing: RowSharing, fn: () => T): T {
  if (sharing === 'subgroups' && !subgroupsUsable())
    throw new LimitError('the subgroups GEMM variants need subgroups of at least 8 invocations; this adapter has none');
  const prev = forcedSharing;
  forcedSharing = sharing;
  try {
    return fn();
  } finally {
    forcedSharing = prev;
  }
}

/** The row sharings this adapter can run. */
export function usableRowSharings(): RowSharing[] {
  return subgroupsUsable() ? ['subgroups', 'invocation'] : ['invocation'];
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
    throw new LimitError(
      `the GEMM kernels need workgroups of at least ${WORKGROUP_SIZES.at(-1)} invocations; this adapter allows ${l.maxComputeInvocationsPerWorkgroup} (x ${l.maxComputeWorkgroupSizeX})`,
    );
  }
  const block = GEMM_CONSTANTS.TN;
  const idle = (wg: number) => (Number.isFinite(columns) ? Math.ceil(columns / (block * wg)) * block * wg - columns : 0);
  const wg = allowed.reduce((best, n) => (idle(n) < idle(best) ? n : best));
  const sharing = forcedSharing ?? (subgroupsUsable() ? 'subgroups' : 'invocation');
  return { WG_M: 1, WG_N: wg, sharing, key: precision() === 'f16' ? `${sharing}F16` : sharing };
}

/** The kernel spec of a GEMM variant at a workgroup size, plus any override constants of its own. */
export function gemmSpec(variant: KernelVariant, t: GemmTiles, overrides: Record<string, number> = {}): KernelSpec {
  return { ...variant, overrides: { WG: t.WG_N, ...overrides } };
}

/** Workgroup grid covering an M x N output: [column tiles, row tiles, splits]. */
export function gemmGroups(M: number, N: number, t: GemmTiles, splits = 1): [number, number, number] {
  return [Math.ceil(N / (GEMM_CONSTANTS.TN * t.WG_N)), Math.ceil(M / GEMM_CONSTANTS.TM), splits];
}

/**
 * How one GEMM candidate of a selection point (engine/variant_choice.ts) launches: its row
 * sharing and its workgroup size, 'fit' for today's rule (gemmTiles: the size that leaves the
 * fewest idle columns, per dispatch) or a fixed size.
 */
export interface GemmLaunch {
  sharing: RowSharing;
  wg: number | 'fit';
}

/** The fixed workgroup sizes offered to the tuner besides 'fit' ('fit' already picks the narrow ones for narrow outputs). */
export const GEMM_FIXED_WORKGROUPS = [64, 32] as const;

/** Every launch of a GEMM body: each row sharing (or only `sharings`) with 'fit' and each fixed size. */
export function gemmLaunches(sharings: readonly RowSharing[] = ROW_SHARINGS): GemmLaunch[] {
  return sharings.flatMap((sharing) => (['fit', ...GEMM_FIXED_WORKGROUPS] as const).map((wg) => ({ sharing, wg })));
}

/** The part of a candidate's name that says how it launches: 'subgroups-wgfit', 'invocation-wg64'. */
export function gemmLaunchName(l: GemmLaunch, withSharing = true): string {
  return `${withSharing ? `${l.sharing}-` : ''}wg${l.wg}`;
}

/** Why this adapter cannot run a launch (its sharing needs subgroups; its workgroup exceeds the limits), or null. */
export function gemmLaunchUnusable(l: GemmLaunch): string | null {
  if (l.sharing === 'subgroups' && !subgroupsUsable()) return 'needs subgroups of at least 8 invocations';
  if (l.wg !== 'fit') {
    const lim = runtime().limits;
    if (l.wg > lim.maxComputeInvocationsPerWorkgroup || l.wg > lim.maxComputeWorkgroupSizeX)
      return `workgroup of ${l.wg} exceeds this adapter's limit of ${Math.min(lim.maxComputeInvocationsPerWorkgroup, lim.maxComputeWorkgroupSizeX)}`;
  }
  return null;
}

/** The tiles of a launch for an output `columns` wide: 'fit' sizes as gemmTiles does, in the launch's sharing. */
export function tilesOf(l: GemmLaunch, columns: number): GemmTiles {
  const key: GemmKey = precision() === 'f16' ? `${l.sharing}F16` : l.sharing;
  if (l.wg === 'fit') return { ...gemmTiles(columns), sharing: l.sharing, key };
  return { WG_M: 1, WG_N: l.wg, sharing: l.sharing, key };
}

/** The row sharing today's rule uses (subgroups where usable, unless withRowSharing says otherwise). */
export function ruleSharing(): RowSharing {
  return forcedSharing ?? (subgroupsUsable() ? 'subgroups' : 'invocation');
}
