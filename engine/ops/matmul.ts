/**
 * matmul(a, b): the matrix product of a [M,K] and b [K,N] -> [M,N].
 * Backward: da = dy b^T, db = a^T dy (each only where needed).
 * `gemm` is the one entry to the tiled kernel (kernels/gemm/matmul.wgsl): either operand may be read
 * transposed through strides and a per-column bias added, so linear layers share it.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import { sharedTileVariants, SHARED_TILE_CONFIGS, type SharedTileSize, type TilePrecision } from './shared_tile_config.ts';
import { tiledCandidates, tiledSize, tileGrid, tiledSpec, checkTiledPrecision } from './gemm_shared.ts';
import { precision as processPrecision } from '../precision.ts';
import {
  gemmSpec,
  gemmGroups,
  gemmVariants,
  gemmLaunches,
  gemmLaunchName,
  gemmLaunchUnusable,
  tilesOf,
  ruleSharing,
  type GemmLaunch,
} from './gemm_tiles.ts';
import { selectionPoint, choose, log2Bucket, type Candidate } from '../variant_choice.ts';

/**
 * The kernel variants of matmul: the register-blocked GEMM body (kernels/gemm/matmul.wgsl) in both
 * row sharings and both precisions, and the workgroup-memory tiled one (kernels/gemm/matmul_tiled.wgsl)
 * per tile configuration, its tiles staged as f32 or (tiledF16, shader-f16 only) as f16
 * (engine/ops/shared_tile_config.ts; launched by gemmTiled below).
 */
export const MATMUL_VARIANTS = {
  ...gemmVariants('matmul', 'gemm/matmul.wgsl'),
  tiled: sharedTileVariants('matmulTiled', 'gemm/matmul_tiled.wgsl'),
  tiledF16: sharedTileVariants('matmulTiled', 'gemm/matmul_tiled.wgsl', 'f16'),
};

/** A 2-D operand of `gemm`, optionally read transposed (`transposed`: use t^T, t stored as given). */
export interface GemmOperand {
  t: Tensor;
  transposed?: boolean;
}

/**
 * c = op(a) op(b) (+ bias[n] on every row), no graph; 2*M*N*K FLOPs (+ M*N for the bias). op(a) must be [M,K] and op(b) [K,N];
 * op(t) is t or t^T (read through strides, no copy). Shapes are the caller's to check.
 */
export function gemm(a: GemmOperand, b: GemmOperand, bias: Tensor | null = null): Tensor {
  const [ar, ac] = a.t.shape;
  const [br, bc] = b.t.shape;
  const [M, K] = a.transposed ? [ac, ar] : [ar, ac];
  const N = b.transposed ? br : bc;
  return choose(MATMUL_CHOICE, { M, N, K }).launch(a, b, bias, { M, N, K });
}

/** The dimensions of one GEMM: op(a) [M,K] times op(b) [K,N]. */
export interface GemmDims {
  M: number;
  N: number;
  K: number;
}
type GemmLaunchFn = (a: GemmOperand, b: GemmOperand, bias: Tensor | null, d: GemmDims) => Tensor;

/** The uniforms both GEMM kernels (register-blocked and tiled) read: sizes, the bias flag, and each operand's strides. */
function gemmUniforms(a: GemmOperand, b: GemmOperand, bias: Tensor | null, { M, N, K }: GemmDims): Record<string, number> {
  return {
    M,
    N,
    K,
    has_bias: bias ? 1 : 0,
    // A[m][k] = a[m*a_sm + k*a_sk]; stored [M,K] -> (K, 1); stored [K,M] (transposed) -> (1, M).
    a_sm: a.transposed ? 1 : K,
    a_sk: a.transposed ? M : 1,
    // B[k][n] = b[k*b_sk + n*b_sn]; stored [K,N] -> (N, 1); stored [N,K] (transposed) -> (1, K).
    b_sk: b.transposed ? 1 : N,
    b_sn: b.transposed ? K : 1,
  };
}

/** `gemm` by the register-blocked kernel (kernels/gemm/matmul.wgsl) with launch `l`. */
function gemmBlocked(l: GemmLaunch, a: GemmOperand, b: GemmOperand, bias: Tensor | null, { M, N, K }: GemmDims): Tensor {
  const c = Tensor.empty([M, N]);
  const tiles = tilesOf(l, N);
  dispatch(
    gemmSpec(MATMUL_VARIANTS[tiles.key], tiles),
    { a: a.t, b: b.t, bias: bias ?? b.t, c },
    gemmUniforms(a, b, bias, { M, N, K }),
    gemmGroups(M, N, tiles),
    2 * M * N * K + (bias ? M * N : 0),
  );
  return c;
}

/** Check that t is a 2-D f32 matrix; `shapes` goes into the message. */
export function checkMatrix(op: string, what: string, t: Tensor, shapes: string) {
  if (t.rank !== 2) throw new ShapeError(op, `${what} must be 2-D (${shapes})`);
  if (t.dtype !== 'f32') throw new ShapeError(op, `${what} must be f32, got ${t.dtype} (${shapes})`);
  if (t.size === 0) throw new ShapeError(op, `${what} is empty (${shapes})`);
}

/** a [M,K] times b [K,N]. */
function matmulImpl(a: Tensor, b: Tensor): Tensor {
  const shapes = `a ${shapeStr(a.shape)}, b ${shapeStr(b.shape)}`;
  checkMatrix('matmul', 'a', a, shapes);
  checkMatrix('matmul', 'b', b, shapes);
  if (a.shape[1] !== b.shape[0])
    throw new ShapeError('matmul', `inner dimensions differ: a has ${a.shape[1]} columns, b has ${b.shape[0]} rows (${shapes})`);
  const c = gemm({ t: a }, { t: b });
  if (needsGrad(a, b)) {
    // da = dy b^T needs b; db = a^T dy needs a.
    const bSaved = a.requiresGrad ? save(b) : null;
    const aSaved = b.requiresGrad ? save(a) : null;
    record(
      'matmul',
      c,
      [a, b],
      (dy) => [
        bSaved ? gemm({ t: dy }, { t: bSaved, transposed: true }) : null,
        aSaved ? gemm({ t: aSaved, transposed: true }, { t: dy }) : null,
      ],
      [bSaved, aSaved].filter((t): t is Tensor => t !== null),
    );
  }
  return c;
}
export const matmul = namedOp('matmul', matmulImpl);

/**
 * The selection point of every GEMM (matmul, its gradients, linear layers; engine/variant_choice.ts):
 * the register-blocked kernel in either row sharing, workgroup 'fit' (today's rule) or fixed.
 * A new variant is one more entry in the list. Geometry class: log2 buckets of M, N and K.
 */
export const MATMUL_CHOICE = selectionPoint<GemmDims, GemmLaunchFn>({
  op: 'matmul',
  candidates: [
    ...gemmLaunches().map((l): Candidate<GemmDims, GemmLaunchFn> => ({
      name: gemmLaunchName(l),
      unusable: () => gemmLaunchUnusable(l),
      params: { kernel: 'blocked', sharing: l.sharing, wg: l.wg },
      launch: (a, b, bias, d) => gemmBlocked(l, a, b, bias, d),
    })),
    ...tiledCandidates<GemmDims, GemmLaunchFn>('tiled (workgroup memory)', (size) => (a, b, bias) => gemmTiled(a, b, bias, size)),
  ],
  classOf: ({ M, N, K }) => `M${log2Bucket(M)} N${log2Bucket(N)} K${log2Bucket(K)}`,
  rule: () => `${ruleSharing()}-wgfit`,
});

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
  checkTiledPrecision('gemmTiled', precision);
  const [ar, ac] = a.t.shape;
  const [br, bc] = b.t.shape;
  const [M, K] = a.transposed ? [ac, ar] : [ar, ac];
  const N = b.transposed ? br : bc;
  const s = tiledSize(M, N, size);
  const c = Tensor.empty([M, N]);
  dispatch(
    tiledSpec((precision === 'f16' ? MATMUL_VARIANTS.tiledF16 : MATMUL_VARIANTS.tiled)[s]),
    { a: a.t, b: b.t, bias: bias ?? b.t, c },
    gemmUniforms(a, b, bias, { M, N, K }),
    tileGrid(M, N, SHARED_TILE_CONFIGS[s]),
    2 * M * N * K + (bias ? M * N : 0),
  );
  return c;
}
