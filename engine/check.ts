/**
 * The one closeness rule for GPU results against float64 references, used by the tests and by
 * the benchmarks' validation step: |gpu - ref| <= atol + rtol * |ref|, elementwise. On failure
 * the message gives the worst element (index, values, error) and the first few mismatches; on
 * success the worst errors are printed (unless RBD_TEST_QUIET=1), so every run shows how close
 * each kernel came.
 */

export interface Tol { atol: number; rtol: number }

/**
 * Tolerance presets for float32 kernels against float64 references.
 * values: a float32 result of a short computation is within a few ulps (2^-23 ~ 1.2e-7) of
 *   the exact value; 1e-5 absolute / 1e-4 relative leaves room for sums of tens of terms.
 * grads: backward passes sum over batch and spatial positions (hundreds to thousands of terms),
 *   so rounding grows roughly with sqrt(length); 1e-4 / 1e-3.
 * forLength(n): for a reduction of n terms of O(1) values, float32 error ~ eps * sqrt(n) * |term|
 *   in practice (worst case eps * n); we allow 8 * eps * n^0.75 on top of the values preset.
 */
export const TOL = {
  values: { atol: 1e-5, rtol: 1e-4 } as Tol,
  grads: { atol: 1e-4, rtol: 1e-3 } as Tol,
  forLength(n: number): Tol {
    const eps = 1.2e-7;
    return { atol: 1e-5 + 8 * eps * Math.pow(n, 0.75), rtol: 1e-4 + 8 * eps * Math.pow(n, 0.75) };
  },
};

export interface CloseReport { maxAbs: number; maxRel: number; worst: number }

/** Assert elementwise closeness; prints `label: worst abs .. rel ..` and returns the report. */
export function assertClose(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol): CloseReport {
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length} != expected ${expected.length}`);
  let maxAbs = 0, maxRel = 0, worst = -1, worstExcess = -Infinity;
  const bad: string[] = [];
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const err = Math.abs(a - e);
    const allowed = tol.atol + tol.rtol * Math.abs(e);
    if (!(err <= allowed)) {
      if (bad.length < 5) bad.push(`[${i}] got ${a} want ${e} (err ${err.toExponential(2)})`);
    }
    const excess = Number.isNaN(err) ? Infinity : err - allowed;
    if (excess > worstExcess) { worstExcess = excess; worst = i; }
    if (err > maxAbs || Number.isNaN(err)) maxAbs = Number.isNaN(err) ? NaN : err;
    const rel = err / Math.max(Math.abs(e), 1e-30);
    if (Math.abs(e) > tol.atol && rel > maxRel) maxRel = rel;
  }
  const summary = `${label}: worst abs err ${maxAbs.toExponential(2)}, rel ${maxRel.toExponential(2)} (atol ${tol.atol.toExponential(1)}, rtol ${tol.rtol.toExponential(1)}, n=${actual.length})`;
  if (bad.length) {
    throw new Error(`${summary}\n  worst at [${worst}]: got ${actual[worst]} want ${expected[worst]}\n  first mismatches: ${bad.join('; ')}`);
  }
  if (process.env.RBD_TEST_QUIET !== '1') console.log(`    ${summary}`);
  return { maxAbs, maxRel, worst };
}
