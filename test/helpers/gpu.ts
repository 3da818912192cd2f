/**
 * Shared test helpers: the GPU runtime, the closeness rule (engine/check.ts, re-exported here),
 * and finite differences.
 */
import { initRuntime, type Runtime } from '../../engine/runtime.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { env } from '../../util/env.ts';
import { assertClose, type Tol, type CloseReport } from '../../engine/check.ts';

export { TOL, assertClose, type Tol, type CloseReport } from '../../engine/check.ts';

export async function gpu(): Promise<Runtime> {
  return initRuntime();
}

/** True when this process runs the GL compatibility smoke pass. */
export const onGl = env.onGlTestPass();

/** Read a tensor and compare it with a reference. */
export async function expectTensor(label: string, t: Tensor, expected: ArrayLike<number>, tol: Tol): Promise<CloseReport> {
  return assertClose(label, await t.read(), expected, tol);
}

/**
 * Central finite differences of a float64 scalar function, in place on x:
 * df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h. With h = 1e-6 in float64 the truncation error
 * is O(h^2 f''') ~ 1e-12 and the rounding error O(eps_64 |f| / h) ~ 1e-10 for |f| ~ 1.
 */
export function numericGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + h;
    const fp = f(x);
    x[i] = old - h;
    const fm = f(x);
    x[i] = old;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Tolerance for analytic float64 gradients vs. finite differences (see numericGrad). */
export const FD_TOL: Tol = { atol: 1e-6, rtol: 1e-5 };

/** sum(a * b): the scalar `loss = sum(out * dout)` whose gradient w.r.t. out is dout. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
