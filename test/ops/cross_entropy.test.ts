/**
 * crossEntropy(logits [N,C], labels [N]) (mean): GPU vs the float64 reference over awkward
 * shapes (N = 1, 3, 7; C = 1, 2, 3, 5, 300, 1000), with host labels and with an i32 label
 * tensor; logits of magnitude 1e3; the reference gradient vs finite differences; the GPU
 * gradient vs the reference under a non-unit upstream gradient; bad labels.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, numericGrad, FD_TOL, TOL, type Tol } from '../helpers/gpu.ts';
import { randomF32, softmaxRelTol, EPS32 } from '../helpers/f32.ts';
import { softmaxRef } from '../../engine/reference/softmax.ts';
import { Tensor, disposeAll } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { crossEntropy } from '../../engine/ops/cross_entropy.ts';
import { crossEntropyRef, crossEntropyGradRef } from '../../engine/reference/cross_entropy.ts';

test.before(async () => {
  await gpu();
});

/**
 * Each row's loss is logsumexp - x[label]: a max, a sum of C exponentials and a log, then a
 * difference of numbers of size |x|, so its float32 error is about eps * (|x| + log C); the
 * mean over N rows adds the length rule.
 */
function lossTol(N: number, C: number, xmax: number): Tol {
  const len = TOL.forLength(N * C);
  return { atol: len.atol + 4 * EPS32 * (xmax + Math.log(C) + 1), rtol: len.rtol };
}

/**
 * The gradient (softmax - onehot) / N: probabilities are float32-accurate relative to
 * themselves (softmaxRelTol, exponents spanning 2 |x|), the one-hot subtraction adds a rounding
 * of size eps; times the upstream gradient.
 */
function gradTol(N: number, C: number, xmax: number, pmax: number, upstream: number): Tol {
  return { atol: (upstream / N) * (pmax * softmaxRelTol(2 * xmax, C) + 2 * EPS32), rtol: 1e-6 };
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

async function check(N: number, C: number, xmax: number, seed: number, labelsOnGpu: boolean) {
  const rng = new Rng(seed);
  const x = randomF32(rng, N * C, -xmax, xmax);
  const labels = Array.from({ length: N }, () => rng.int(C));
  const xt = Tensor.from(x, [N, C]);
  xt.requiresGrad = true;
  const labelTensor = labelsOnGpu ? Tensor.from(labels, [N], 'i32') : null;
  const loss = crossEntropy(xt, labelTensor ?? labels);
  const value = await loss.item();
  assert.ok(Number.isFinite(value), `loss is ${value}`);
  const name = `x=[${N},${C}] |x|<=${xmax} labels ${labelsOnGpu ? 'tensor' : 'host'}`;
  assertClose(`crossEntropy loss ${name}`, [value], [crossEntropyRef(x, [N, C], labels)], lossTol(N, C, xmax));
  const upstream = 1.7;
  const g = Tensor.from([upstream], [1]);
  backward(loss, g);
  const expected = crossEntropyGradRef(x, [N, C], labels).map((v) => v * upstream);
  assertClose(
    `crossEntropy dx ${name}`,
    await xt.grad!.read(),
    expected,
    gradTol(N, C, xmax, Math.max(...softmaxRef(x, [N, C])), upstream),
  );
  disposeAll([xt.grad, xt, loss, g, labelTensor]);
}

for (const [N, C] of SHAPES) {
  test(`crossEntropy forward and backward x=[${N},${C}] host labels`, () => check(N, C, 4, N * 31 + C, false));
}
for (const [N, C] of [
  [1, 1],
  [7, 3],
  [3, 300],
] as [number, number][]) {
  test(`crossEntropy forward and backward x=[${N},${C}] i32 label tensor`, () => check(N, C, 4, N * 37 + C, true));
}
test('crossEntropy large logits |x|~1e3 x=[7,1000] stays finite and accurate', () => check(7, 1000, 1000, 11, false));

for (const [N, C] of [
  [1, 1],
  [2, 3],
  [3, 5],
] as [number, number][]) {
  test(`crossEntropy reference gradient vs finite differences x=[${N},${C}]`, () => {
    const rng = new Rng(70 + C);
    const x = rng.array(N * C, () => rng.uniform(-2, 2));
    const labels = Array.from({ length: N }, () => rng.int(C));
    const numeric = numericGrad((xx) => crossEntropyRef(xx, [N, C], labels), x);
    assertClose(`crossEntropy ref grad vs FD x=[${N},${C}]`, crossEntropyGradRef(x, [N, C], labels), numeric, FD_TOL);
  });
}

test('crossEntropy reference of uniform logits is log C x=[3,5]', () => {
  const v = crossEntropyRef(new Float64Array(15), [3, 5], [0, 4, 2]);
  assert.ok(Math.abs(v - Math.log(5)) < 1e-15);
});

test('crossEntropy: an out-of-range host label throws before dispatch, naming the row and the class count', () => {
  const x = Tensor.zeros([3, 5]);
  assert.throws(() => crossEntropy(x, [0, 5, 1]), /crossEntropy: label 5 of row 1 is not a class index in \[0, 5\) for logits \[3,5\]/);
  assert.throws(() => crossEntropy(x, [0, -1, 1]), /label -1 of row 1/);
  assert.throws(() => crossEntropy(x, [0, 1.5, 1]), /label 1.5 of row 1/);
  assert.throws(() => crossEntropy(x, [0, 1]), /crossEntropy: labels must be 3 class indices .* for logits \[3,5\], got 2 host labels/);
  const wrongType = Tensor.zeros([3]);
  assert.throws(() => crossEntropy(x, wrongType), /labels must be 3 class indices \(an i32 tensor \[3\].*got tensor\[3\] f32/);
  disposeAll([x, wrongType]);
});

test('crossEntropy: an out-of-range label in an i32 tensor makes the loss and its row gradient NaN x=[3,5]', async () => {
  const rng = new Rng(3);
  const xt = Tensor.from(randomF32(rng, 15), [3, 5]);
  xt.requiresGrad = true;
  const labels = Tensor.from([2, 7, 0], [3], 'i32');
  const loss = crossEntropy(xt, labels);
  assert.ok(Number.isNaN(await loss.item()));
  backward(loss);
  const g = await xt.grad!.read();
  assert.ok(g.slice(5, 10).every(Number.isNaN), 'row 1 (label 7) gradient must be NaN');
  assert.ok([...g.slice(0, 5), ...g.slice(10)].every(Number.isFinite), 'other rows keep finite gradients');
  disposeAll([xt.grad, xt, labels, loss]);
});

test.run();
