// @smoke-gl
/**
 * klDivDistill(student, teacher, T) = T^2 * batchmean KL(softmax(t/T) || softmax(s/T)): GPU vs
 * the float64 reference over awkward shapes (N = 1, 3, 7; C = 1, 2, 3, 5, 300, 1000), T in
 * {1, 4, 20}; logits of magnitude 1e3 (teacher probabilities underflow to 0: 0 log 0 = 0);
 * the reference gradient vs finite differences; the GPU gradient (student only) vs the
 * reference, under a non-unit upstream gradient.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, numericGrad, FD_TOL, TOL, type Tol } from '../helpers/gpu.ts';
import { randomF32, softmaxRelTol, EPS32 } from '../helpers/f32.ts';
import { Tensor, disposeAll } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { klDivDistill } from '../../engine/ops/kl_div.ts';
import { klDivDistillRef, klDivDistillGradRef } from '../../engine/reference/kl_div.ts';
import { softmaxRef } from '../../engine/reference/softmax.ts';

test.before(async () => {
  await gpu();
});

/**
 * Each row's KL is sum_j pt (log pt - log ps): float32 log-probabilities carry an absolute error
 * of about eps * (log C + |x|/T) each, so the row sum is off by about 2 eps (log C + |x|/T), and
 * the T^2 factor scales that up (T = 20: 400x). The sums over C and N add the usual length rule.
 */
function lossTol(N: number, C: number, T: number, xmax: number): Tol {
  const len = TOL.forLength(N * C);
  return { atol: len.atol + 4 * EPS32 * T * T * (Math.log(C) + 1 + xmax / T), rtol: len.rtol };
}

/**
 * The gradient T (ps - pt) / N: each probability is float32-accurate relative to itself
 * (softmaxRelTol, exponents spanning 2 |x| / T), so the error is at most T / N times twice the
 * largest probability times that bound.
 */
function gradTol(N: number, C: number, T: number, xmax: number, pmax: number): Tol {
  return { atol: (T / N) * 2 * pmax * softmaxRelTol((2 * xmax) / T, C), rtol: 1e-6 };
}

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

async function check(N: number, C: number, T: number, xmax: number, seed: number) {
  const rng = new Rng(seed);
  const s = randomF32(rng, N * C, -xmax, xmax);
  const t = randomF32(rng, N * C, -xmax, xmax);
  const st = Tensor.from(s, [N, C]);
  const tt = Tensor.from(t, [N, C]);
  st.requiresGrad = true;
  // The teacher requires grad too, to prove it gets none.
  tt.requiresGrad = true;
  const loss = klDivDistill(st, tt, T);
  const value = await loss.item();
  assert.ok(Number.isFinite(value), `loss is ${value}`);
  const shape = `s=t=[${N},${C}] T=${T}`;
  assertClose(`klDivDistill loss ${shape} |x|<=${xmax}`, [value], [klDivDistillRef(s, t, [N, C], T)], lossTol(N, C, T, xmax));
  // Upstream gradient 0.37: the rule must scale by it (as under a weighted sum of losses).
  const upstream = 0.37;
  const g = Tensor.from([upstream], [1]);
  backward(loss, g);
  const expected = klDivDistillGradRef(s, t, [N, C], T).map((v) => v * upstream);
  const pmax = Math.max(...softmaxRef(s, [N, C], T), ...softmaxRef(t, [N, C], T));
  const got = await st.grad!.read();
  assert.ok(got.every(Number.isFinite), 'student gradient has a non-finite value');
  assertClose(
    `klDivDistill dstudent ${shape} |x|<=${xmax}`,
    got,
    expected,
    gradTol(N, C, T, xmax, pmax) /* upstream 0.37 < 1 only shrinks errors */,
  );
  assert.is(tt.grad, null, 'the teacher must get no gradient');
  disposeAll([st.grad, st, tt, loss, g]);
}

for (const [N, C] of SHAPES) {
  for (const T of [1, 4, 20]) {
    test(`klDivDistill forward and backward s=t=[${N},${C}] T=${T}`, () => check(N, C, T, 4, N * 100 + C + T));
  }
}

for (const T of [1, 4, 20]) {
  test(`klDivDistill large logits |x|~1e3 s=t=[3,300] T=${T} (0 log 0 = 0) stays finite and accurate`, () =>
    check(3, 300, T, 1000, 900 + T));
}

test('klDivDistill of a distribution with itself is 0 with zero gradient s=t=[7,5] T=4', async () => {
  const rng = new Rng(4);
  const x = randomF32(rng, 35, -3, 3);
  const st = Tensor.from(x, [7, 5]);
  const tt = Tensor.from(x, [7, 5]);
  st.requiresGrad = true;
  const loss = klDivDistill(st, tt, 4);
  assert.ok(Math.abs(await loss.item()) < 1e-6);
  backward(loss);
  assert.ok((await st.grad!.read()).every((v) => Math.abs(v) < 1e-7));
  disposeAll([st.grad, st, tt, loss]);
});

for (const T of [1, 4]) {
  for (const [N, C] of [
    [1, 1],
    [2, 3],
    [3, 5],
  ] as [number, number][]) {
    test(`klDivDistill reference gradient vs finite differences s=t=[${N},${C}] T=${T}`, () => {
      const rng = new Rng(50 + C * T);
      const s = rng.array(N * C, () => rng.uniform(-2, 2));
      const t = rng.array(N * C, () => rng.uniform(-2, 2));
      const numeric = numericGrad((ss) => klDivDistillRef(ss, t, [N, C], T), s);
      assertClose(`klDivDistill ref grad vs FD s=t=[${N},${C}] T=${T}`, klDivDistillGradRef(s, t, [N, C], T), numeric, FD_TOL);
    });
  }
}

test('klDivDistill reference is batchmean: the total divided by N, not N*C', () => {
  // Two copies of one row: batchmean gives the one-row value; a mean over N*C would halve it per class.
  const s = Float64Array.from([0.3, -1, 2]);
  const t = Float64Array.from([1, 0.5, -0.5]);
  const one = klDivDistillRef(s, t, [1, 3], 2);
  const two = klDivDistillRef(Float64Array.from([...s, ...s]), Float64Array.from([...t, ...t]), [2, 3], 2);
  assert.ok(Math.abs(one - two) < 1e-15);
  // And the T^2 factor: KL at T = 2 from first principles.
  const sm = (x: Float64Array) => {
    const e = Array.from(x, (v) => Math.exp(v / 2));
    const z = e.reduce((a, b) => a + b);
    return e.map((v) => v / z);
  };
  const ps = sm(s),
    pt = sm(t);
  const kl = pt.reduce((acc, p, j) => acc + p * Math.log(p / ps[j]), 0);
  assert.ok(Math.abs(one - 4 * kl) < 1e-12, `${one} vs ${4 * kl}`);
});

test('bad calls throw before dispatch, naming the op and the shapes', () => {
  const a = Tensor.zeros([3, 5]);
  const b = Tensor.zeros([3, 4]);
  const c = Tensor.zeros([15]);
  assert.throws(() => klDivDistill(a, b), /klDivDistill: student logits \[3,5\] and teacher logits \[3,4\] must have the same/);
  assert.throws(() => klDivDistill(c, a), /klDivDistill: needs f32 logits \[N,C\].*\[15\]/);
  assert.throws(() => klDivDistill(a, a, -1), /klDivDistill: temperature T must be a finite number > 0, got -1/);
  disposeAll([a, b, c]);
});

test.run();
