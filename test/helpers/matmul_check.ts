/**
 * matmul on the GPU against the float64 reference (engine/reference/matmul.ts): c = a b and both
 * gradients (da = dc b^T and db = a^T dc, so each operand is also read transposed), on random
 * [M,K] x [K,N] data drawn from `seed`. Tolerance (gemmTol): TOL.forLength of the reduction
 * length in f32; with f16 operands, f16GemmTol's bound from the sums of |products|.
 */
import { assertClose, TOL } from './gpu.ts';
import { asF32, f16GemmTol } from './f32.ts';
import { Tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { matmul } from '../../engine/ops/matmul.ts';
import { matmulRef, matmulBackwardRef } from '../../engine/reference/matmul.ts';

/** A GEMM output's tolerance for a reduction of `n` terms; f16: from the sums of |products| (`sumAbs`). */
export const gemmTol = (f16: boolean, n: number, sumAbs: () => Float64Array) => (f16 ? f16GemmTol(sumAbs(), n) : TOL.forLength(n));
export const abs = (x: Float64Array) => x.map(Math.abs);

export async function checkMatmul(M: number, K: number, N: number, seed: number, label: string, f16 = false) {
  const rng = new Rng(seed);
  const a = asF32(rng.array(M * K)),
    b = asF32(rng.array(K * N)),
    dc = asF32(rng.array(M * N));
  const at = Tensor.from(a, [M, K]),
    bt = Tensor.from(b, [K, N]),
    dct = Tensor.from(dc, [M, N]);
  at.requiresGrad = true;
  bt.requiresGrad = true;
  const c = matmul(at, bt);
  backward(c, dct);
  const ref = matmulBackwardRef(a, b, dc, M, K, N);
  const absRef = () => matmulBackwardRef(abs(a), abs(b), abs(dc), M, K, N);
  assertClose(
    `${label} forward`,
    await c.read(),
    matmulRef(a, b, M, K, N),
    gemmTol(f16, K, () => matmulRef(abs(a), abs(b), M, K, N)),
  );
  assertClose(
    `${label} da`,
    await at.grad!.read(),
    ref.da,
    gemmTol(f16, N, () => absRef().da),
  );
  assertClose(
    `${label} db`,
    await bt.grad!.read(),
    ref.db,
    gemmTol(f16, M, () => absRef().db),
  );
  for (const t of [at, bt, dct, c]) {
    t.grad?.dispose();
    t.dispose();
  }
}
