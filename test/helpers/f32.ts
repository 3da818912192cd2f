/**
 * Test inputs that float32 represents exactly: the GPU and the float64 reference then start from
 * the same numbers, and every difference is the kernel's own rounding.
 */
import { Rng } from '../../engine/random.ts';

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
