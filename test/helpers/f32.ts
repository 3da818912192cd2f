/**
 * Test inputs that float32 represents exactly: the GPU and the float64 reference then start from
 * the same numbers, and every difference is the kernel's own rounding.
 */
import { Rng } from '../../engine/random.ts';
import { TOL, type Tol } from '../../engine/check.ts';

/** n uniform values in [lo, hi), rounded to float32, held in float64. */
export function randomF32(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from(Float32Array.from(rng.array(n, () => rng.uniform(lo, hi))));
}

/** float32 unit roundoff (2^-23), rounded up. */
export const EPS32 = 1.2e-7;

/**
 * Relative float32 error bound for a row-softmax probability exp(z - logsumexp) over C classes
 * whose exponents span `exponentRange` (max |z|, e.g. 2 * max|x| / T): the exponent carries an
 * absolute error of about eps * |z|, which exp turns into a relative error; the row sum adds
 * eps per term of one invocation's strided chain (C / 32 at most, the smallest workgroup) and
 * one per tree level (<= 8). Factor 8 of headroom.
 */
export function softmaxRelTol(exponentRange: number, C: number): number {
  return 8 * EPS32 * (exponentRange + Math.log(C) + C / 32 + 8);
}

/** `values` rounded to float32, held in float64: what a GPU tensor made from them holds. */
export function asF32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

/** f16 unit roundoff: a value rounded to f16 is off by at most 2^-11 of itself (normal range). */
export const U16 = 2 ** -11;

/**
 * The error bound of an f16 GEMM (engine/precision.ts: operands rounded to f16, their product
 * taken in f16, f32 accumulation) over a reduction of length n, given per output the sum of
 * |products| (sumAbs: the same reduction on |a|, |b| in float64). Each term is off by at most
 * (1 + U16)^3 - 1 of the exact product (two operand roundings and the product's, each <= U16 of
 * its value in f16's normal range), plus 2^-25 absolute where the product falls below 2^-14 (f16
 * subnormals, quantum 2^-24). So the f16 rounding adds at most ((1 + U16)^3 - 1) * sum|products|
 * + n * 2^-25 <= 3.01 U16 * n * max|a||b| + n * 2^-25 (the length bound); the f32 accumulation
 * adds TOL.forLength(n). atol uses the largest sumAbs of any output. Rounding to nearest is
 * assumed (WGSL allows either neighbour; a driver that truncates would double U16).
 */
export function f16GemmTol(sumAbs: ArrayLike<number>, n: number): Tol {
  let s = 0;
  for (let i = 0; i < sumAbs.length; i++) s = Math.max(s, sumAbs[i]);
  const f32 = TOL.forLength(n);
  return { atol: ((1 + U16) ** 3 - 1) * s + n * 2 ** -25 + f32.atol, rtol: f32.rtol };
}
