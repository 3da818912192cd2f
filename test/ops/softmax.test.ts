// @smoke-gl
/**
 * softmax / logSoftmax with temperature over the last dim: GPU vs the float64 reference over
 * awkward shapes (N = 1, 3, 7; C = 1, 2, 3, 5, 300, 1000, i.e. rows shorter and longer than a
 * workgroup), T in {1, 4, 20}; logits of magnitude 1e3; the reference backward vs finite
 * differences; the GPU backward vs the reference with a random upstream gradient.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, numericGrad, dot, FD_TOL, type Tol } from '../helpers/gpu.ts';
import { randomF32, softmaxRelTol, EPS32 } from '../helpers/f32.ts';
import { Tensor, disposeAll } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { softmax, logSoftmax } from '../../engine/ops/softmax.ts';
import { softmaxRef, logSoftmaxRef, softmaxBackwardRef, logSoftmaxBackwardRef } from '../../engine/reference/softmax.ts';

test.before(async () => {
  await gpu();
});

const SHAPES: [number, number][] = [
  [1, 1],
  [3, 2],
  [7, 3],
  [1, 5],
  [7, 5],
  [3, 300],
  [1, 1000],
  [7, 1000],
];
const TEMPS = [1, 4, 20];
const VARIANTS = [
  { name: 'softmax', op: softmax, ref: softmaxRef, backRef: softmaxBackwardRef },
  { name: 'logSoftmax', op: logSoftmax, ref: logSoftmaxRef, backRef: logSoftmaxBackwardRef },
] as const;

/**
 * Forward: a probability is float32-accurate relative to itself (softmaxRelTol); a
 * log-probability is accurate in absolute terms to eps times its size, |x - max| / T + log C.
 */
function forwardTol(variant: string, C: number, exponentRange: number): Tol {
  const rel = softmaxRelTol(exponentRange, C);
  return variant === 'softmax' ? { atol: 1e-30, rtol: rel } : { atol: rel, rtol: 1e-6 };
}

/**
 * Backward, per element (y = softmax probabilities, p = max over all of them):
 *   softmax:    dx = y (dy - sum(dy y)) / T: the error scales with y, at most p, times a relative
 *               error of softmaxRelTol on (|dy| + |sum|) <= 2;
 *   logSoftmax: dx = (dy - y sum(dy)) / T: eps on dy plus p |sum(dy)| softmaxRelTol.
 * The absolute bound follows the largest term; rtol 1e-6 covers the final roundings.
 */
function backwardTol(variant: string, C: number, exponentRange: number, T: number, p: number, sumAbsDy: number): Tol {
  const rel = softmaxRelTol(exponentRange, C);
  const atol = variant === 'softmax' ? (2 * p * rel) / T : (4 * EPS32 + p * sumAbsDy * rel) / T;
  return { atol, rtol: 1e-6 };
}

/** Largest probability and largest per-row sum of |dy|: the scales of the backward's rounding. */
function scales(x: Float64Array, dy: Float64Array, [N, C]: [number, number], T: number) {
  const p = Math.max(...softmaxRef(x, [N, C], T));
  let sumAbsDy = 0;
  for (let n = 0; n < N; n++)
    sumAbsDy = Math.max(
      sumAbsDy,
      dy.slice(n * C, (n + 1) * C).reduce((a, b) => a + Math.abs(b), 0),
    );
  return { p, sumAbsDy };
}

for (const v of VARIANTS) {
  for (const [N, C] of SHAPES) {
    for (const T of TEMPS) {
      test(`${v.name} forward and backward x=[${N},${C}] T=${T}`, async () => {
        const rng = new Rng(N * 1000 + C * 10 + T);
        const x = randomF32(rng, N * C, -4, 4);
        const dy = randomF32(rng, N * C);
        const xt = Tensor.from(x, [N, C]);
        xt.requiresGrad = true;
        const y = v.op(xt, T);
        // Exponents (x - max) / T span at most 8 / T for x in [-4, 4].
        assertClose(`${v.name} y x=[${N},${C}] T=${T}`, await y.read(), v.ref(x, [N, C], T), forwardTol(v.name, C, 8 / T));
        const dyt = Tensor.from(dy, [N, C]);
        const sc = scales(x, dy, [N, C], T);
        backward(y, dyt);
        assertClose(
          `${v.name} dx x=[${N},${C}] T=${T}`,
          await xt.grad!.read(),
          v.backRef(x, [N, C], T, dy),
          backwardTol(v.name, C, 8 / T, T, sc.p, sc.sumAbsDy),
        );
        disposeAll([xt.grad, xt, y, dyt]);
      });
    }
  }
}

for (const v of VARIANTS) {
  for (const T of TEMPS) {
    test(`${v.name} large logits |x|~1e3 x=[3,300] T=${T} stay finite and accurate`, async () => {
      const rng = new Rng(77 + T);
      const x = randomF32(rng, 900, -1000, 1000);
      const xt = Tensor.from(x, [3, 300]);
      const got = await v.op(xt, T).read();
      assert.ok(got.every(Number.isFinite), `${v.name} produced a non-finite value`);
      assertClose(`${v.name} y large logits T=${T}`, got, v.ref(x, [3, 300], T), forwardTol(v.name, 300, 2000 / T));
      xt.dispose();
    });
  }
}

test('softmax of 70000 rows x=[70000,3] (more rows than workgroups per dimension, folded dispatch)', async () => {
  const rng = new Rng(5);
  const x = randomF32(rng, 70000 * 3, -3, 3);
  const xt = Tensor.from(x, [70000, 3]);
  assertClose('softmax y x=[70000,3]', await softmax(xt, 4).read(), softmaxRef(x, [70000, 3], 4), forwardTol('softmax', 3, 6 / 4));
  xt.dispose();
});

for (const v of VARIANTS) {
  for (const T of [1, 4]) {
    for (const [N, C] of [
      [1, 1],
      [2, 3],
      [3, 5],
    ] as [number, number][]) {
      test(`${v.name} reference backward vs finite differences x=[${N},${C}] T=${T}`, () => {
        const rng = new Rng(300 + C + T);
        const x = rng.array(N * C, () => rng.uniform(-2, 2));
        const dy = rng.array(N * C);
        const numeric = numericGrad((xx) => dot(v.ref(xx, [N, C], T), dy), x);
        assertClose(`${v.name} ref grad vs FD x=[${N},${C}] T=${T}`, v.backRef(x, [N, C], T, dy), numeric, FD_TOL);
      });
    }
  }
}

test('softmax rows sum to 1 and logSoftmax = log(softmax) x=[7,1000] T=4', async () => {
  // An identity check that does not go through the reference at all.
  const rng = new Rng(9);
  const xt = Tensor.from(randomF32(rng, 7000, -5, 5), [7, 1000]);
  const p = await softmax(xt, 4).read();
  const lp = await logSoftmax(xt, 4).read();
  for (let n = 0; n < 7; n++) {
    let s = 0;
    for (let j = 0; j < 1000; j++) s += p[n * 1000 + j];
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${n} sums to ${s}`);
  }
  assertClose('log(softmax) vs logSoftmax x=[7,1000] T=4', Array.from(p, Math.log), lp, forwardTol('logSoftmax', 1000, 10 / 4));
  xt.dispose();
});

test('bad calls throw before dispatch, naming the op and the shape', () => {
  const x3 = Tensor.zeros([2, 3, 4]);
  const xi = Tensor.zeros([2, 3], 'i32');
  const x = Tensor.zeros([2, 3]);
  const e = Tensor.zeros([0, 3]);
  assert.throws(() => softmax(x3), /softmax: needs f32 logits \[N,C\].*\[2,3,4\]/);
  assert.throws(() => logSoftmax(xi), /logSoftmax: needs f32 logits.*i32/);
  assert.throws(() => softmax(e), /softmax: needs f32 logits \[N,C\] with N >= 1.*\[0,3\]/);
  assert.throws(() => softmax(x, 0), /softmax: temperature T must be a finite number > 0, got 0/);
  assert.throws(() => logSoftmax(x, NaN), /logSoftmax: temperature T must be a finite number > 0, got NaN/);
  for (const t of [x3, xi, x, e]) t.dispose();
});

test.run();
