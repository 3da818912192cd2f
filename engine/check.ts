/**
 * The one closeness rule for GPU results against float64 references, used by the tests and by
 * the benchmarks' validation step: |gpu - ref| <= atol + rtol * |ref|, elementwise. On failure
 * the message gives the worst element (index, values, error) and the first few mismatches; on
 * success the worst errors are printed (unless RBD_TEST_QUIET=1), so every run shows how close
 * each kernel came.
 */
import { env } from '../util/env.ts';

export interface Tol {
  atol: number;
  rtol: number;
}

/**
 * Tolerance presets for float32 kernels against float64 references.
 * values: a float32 result of a short computation is within a few ulps (2^-23 ~ 1.2e-7) of
 *   the exact value; 1e-5 absolute / 1e-4 relative leaves room for sums of tens of terms.
 * grads: backward passes sum over batch and spatial positions (hundreds to thousands of terms),
 *   so rounding grows roughly with sqrt(length); 1e-4 / 1e-3.
 * forLength(n): a float32 reduction of n terms (a dot product, a sum, a mean), inputs exact in
 *   float32 (the reference sees the numbers the GPU holds). Each of its n multiplications and
 *   n - 1 additions rounds once, by at most u = 2^-24 of the value it produces, so in any order
 *   (sequential, tiled, tree) |error| <= u * (sum of |products| + sum of |partial sums|). The
 *   tests feed O(1) data (uniform in [-1, 1], weights scaled by 1/sqrt(fan-in)), whose products
 *   and partial sums stay below 1 in magnitude (or below |result|, covered by rtol): |error| <=
 *   2 u n = EPS32 n. Plus EPS32 * 4 for the few roundings an op applies after the reduction
 *   (a scale, a division, a square root). Measured on lavapipe (conv2d, matmul, linear tests,
 *   136 comparisons): the worst error is 0.08-0.53 of EPS32 * n for n >= 30, so this bound sits
 *   2-12x above what the kernels do.
 */
const EPS32 = 1.2e-7;
export const TOL = {
  values: { atol: 1e-5, rtol: 1e-4 } as Tol,
  grads: { atol: 1e-4, rtol: 1e-3 } as Tol,
  forLength(n: number): Tol {
    const bound = EPS32 * (n + 4);
    return { atol: bound, rtol: bound };
  },
  /**
   * forLengthF16(n): forLength for the f16 GEMM variants (engine/precision.ts: operands rounded
   * to f16, products taken in f16, f32 accumulation), on the same O(1) data (|products| <= 1):
   * each term is off by at most (1 + U16)^3 - 1 ~ 3 U16 of itself (U16 = 2^-11, the f16 unit
   * roundoff; two operand roundings and the product's) plus 2^-25 where the product is an f16
   * subnormal, so the f16 rounding adds at most ((1 + U16)^3 - 1 + 2^-25) * n to forLength(n).
   */
  forLengthF16(n: number): Tol {
    const f32 = TOL.forLength(n);
    return { atol: ((1 + U16) ** 3 - 1 + 2 ** -25) * n + f32.atol, rtol: f32.rtol };
  },
};
const U16 = 2 ** -11;

export interface CloseReport {
  maxAbs: number;
  maxRel: number;
  worst: number;
}

/** One comparison as the conformance suite records it (conformance/suite.ts). */
export interface CheckRecord {
  label: string;
  maxAbs: number;
  maxRel: number;
  tol: Tol;
  /** max over elements of |gpu - ref| / (atol + rtol |ref|): at most 1 when the check passes (NaN counts as Infinity). */
  worstRatio: number;
  n: number;
  pass: boolean;
}

const checkListeners = new Set<(r: CheckRecord) => void>();

/** Be told of every assertClose, passing or failing (the conformance suite collects them). Returns the unsubscribe. */
export function onCheck(fn: (r: CheckRecord) => void): () => void {
  checkListeners.add(fn);
  return () => checkListeners.delete(fn);
}

/** Assert elementwise closeness; prints `label: worst abs .. rel ..` and returns the report. */
export function assertClose(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol): CloseReport {
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length} != expected ${expected.length}`);
  let maxAbs = 0,
    maxRel = 0,
    worst = -1,
    worstExcess = -Infinity,
    worstRatio = 0;
  const bad: string[] = [];
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i],
      e = expected[i];
    const err = Math.abs(a - e);
    const allowed = tol.atol + tol.rtol * Math.abs(e);
    if (!(err <= allowed)) {
      if (bad.length < 5) bad.push(`[${i}] got ${a} want ${e} (err ${err.toExponential(2)})`);
    }
    const excess = Number.isNaN(err) ? Infinity : err - allowed;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
    const ratio = Number.isNaN(err) ? Infinity : err / allowed;
    if (ratio > worstRatio) worstRatio = ratio;
    if (err > maxAbs || Number.isNaN(err)) maxAbs = Number.isNaN(err) ? NaN : err;
    const rel = err / Math.max(Math.abs(e), 1e-30);
    if (Math.abs(e) > tol.atol && rel > maxRel) maxRel = rel;
  }
  const summary = `${label}: worst abs err ${maxAbs.toExponential(2)}, rel ${maxRel.toExponential(2)} (atol ${tol.atol.toExponential(1)}, rtol ${tol.rtol.toExponential(1)}, n=${actual.length})`;
  for (const fn of checkListeners) fn({ label, maxAbs, maxRel, tol, worstRatio, n: actual.length, pass: bad.length === 0 });
  if (bad.length) {
    throw new Error(
      `${summary}\n  worst at [${worst}]: got ${actual[worst]} want ${expected[worst]}\n  first mismatches: ${bad.join('; ')}`,
    );
  }
  if (!env.testQuiet()) console.log(`    ${summary}`);
  return { maxAbs, maxRel, worst };
}
