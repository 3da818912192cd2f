/**
 * The closeness rule itself (engine/check.ts): every test and benchmark validation trusts it, so
 * it must fail on NaN, on a length mismatch and one float32 ulp past its limit, and pass at it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, TOL } from '../../engine/check.ts';

process.env.RBD_TEST_QUIET = '1';

test('NaN in the result fails, wherever it is, even with huge tolerances', () => {
  assert.throws(
    () => assertClose('nan', [1, NaN, 3], [1, 2, 3], { atol: 1e9, rtol: 1e9 }),
    /nan: worst abs err NaN.*\n  worst at \[1\]: got NaN/,
  );
  assert.throws(() => assertClose('nan last', [1, 2, NaN], [1, 2, 3], TOL.values), /worst at \[2\]/);
  // A NaN the reference also has is still a failure: NaN is never close to anything.
  assert.throws(() => assertClose('nan both', [NaN], [NaN], TOL.values), /got NaN want NaN/);
});

test('a length mismatch fails before any comparison', () => {
  assert.throws(() => assertClose('short', [1, 2], [1, 2, 3], TOL.values), /short: length 2 != expected 3/);
  assert.throws(() => assertClose('long', new Float32Array(4), new Float64Array(3), TOL.values), /length 4 != expected 3/);
});

test('one float32 ulp beyond atol + rtol*|ref| fails; exactly at the limit passes', () => {
  const tol = { atol: 0, rtol: 2 ** -20 };
  const ref = 1.5;
  const limit = tol.rtol * ref; // allowed |err|: 1.5 * 2^-20 = 12 ulps of 1.5 (ulp 2^-23)
  const at = Math.fround(ref + limit); // representable: exactly the limit
  assert.is(at - ref, limit);
  assertClose('at limit', Float32Array.of(at), [ref], tol);
  const over = at + 2 ** -23; // the next float32 above
  assert.is(Math.fround(over), over);
  assert.throws(() => assertClose('one ulp over', Float32Array.of(over), [ref], tol), /one ulp over: worst abs err/);
  // atol alone, around zero: the smallest float32 step past atol fails.
  const atol = 2 ** -30;
  assertClose('atol at', Float32Array.of(atol), [0], { atol, rtol: 0 });
  assert.throws(() => assertClose('atol over', Float32Array.of(atol + 2 ** -53), [0], { atol, rtol: 0 }), /atol over/);
});

test('the report names the element closest to its limit and returns the worst errors', () => {
  const r = assertClose('report', [1, 2.000001, 3], [1, 2, 3], { atol: 1e-5, rtol: 0 });
  assert.is(r.worst, 1);
  assert.ok(Math.abs(r.maxAbs - 1e-6) < 1e-12);
  assert.throws(
    () => assertClose('many', [0, 9, 0, 7], [0, 0, 0, 0], { atol: 1, rtol: 0 }),
    /worst at \[1\]: got 9 want 0\n  first mismatches: \[1\] got 9 want 0 .*; \[3\] got 7 want 0/,
  );
});

test.run();
