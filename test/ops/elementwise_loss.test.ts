/**
 * mseLoss and l1Loss (means over all elements): GPU vs the float64 reference over shapes from
 * one element to more elements than the partial-sum pass covers in one sweep (grid-stride),
 * gradients to a, to b, or both, under a non-unit upstream gradient; L1's zero gradient at a tie;
 * the references' gradients vs finite differences.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, numericGrad, FD_TOL, type Tol } from '../helpers/gpu.ts';
import { randomF32 } from '../helpers/f32.ts';
import { Tensor, disposeAll, shapeSize } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { mseLoss } from '../../engine/ops/mse_loss.ts';
import { l1Loss } from '../../engine/ops/l1_loss.ts';
import { mseLossRef, mseLossGradRef } from '../../engine/reference/mse_loss.ts';
import { l1LossRef, l1LossGradRef } from '../../engine/reference/l1_loss.ts';

test.before(async () => {
  await gpu();
});

const LOSSES = [
  { name: 'mseLoss', op: mseLoss, ref: mseLossRef, gradRef: mseLossGradRef },
  { name: 'l1Loss', op: l1Loss, ref: l1LossRef, gradRef: l1LossGradRef },
] as const;

/**
 * The loss is a sum of n non-negative terms: each invocation adds a short strided chain
 * (n / (256 * workgroup size) terms), then two tree reductions (<= 8 levels each) combine them,
 * so the relative rounding error stays below eps * (chain + 16), well under 1e-5 for
 * n <= 1e6. Terms are non-negative: no cancellation.
 */
const LOSS_TOL: Tol = { atol: 1e-7, rtol: 1e-5 };
/**
 * The gradient is elementwise (a difference, two products): at most four float32 roundings, so
 * relative 1e-6 (~8 eps). The values are small (~1/n), so the absolute floor must be tiny too, or
 * the check would prove nothing for large n.
 */
const GRAD_TOL: Tol = { atol: 1e-12, rtol: 1e-6 };

const SHAPES = [[1], [1, 1, 1, 1], [3, 5, 7], [2, 3, 17, 9], [8, 256, 8, 8], [3, 1, 333, 333]];
const WHO = [['a', 'b'], ['a'], ['b']] as const;

for (const L of LOSSES) {
  SHAPES.forEach((shape, k) => {
    const who = WHO[k % WHO.length];
    test(`${L.name} forward and backward (grad to ${who.join(', ')}) a=b=[${shape}]`, async () => {
      const n = shapeSize(shape);
      const rng = new Rng(n + k);
      const a = randomF32(rng, n, -2, 2);
      const b = randomF32(rng, n, -2, 2);
      const at = Tensor.from(a, shape);
      const bt = Tensor.from(b, shape);
      at.requiresGrad = who.includes('a' as never);
      bt.requiresGrad = who.includes('b' as never);
      const loss = L.op(at, bt);
      assertClose(`${L.name} loss a=b=[${shape}]`, [await loss.item()], [L.ref(a, b)], LOSS_TOL);
      const upstream = 0.5;
      const g = Tensor.from([upstream], [1]);
      backward(loss, g);
      const ga = L.gradRef(a, b).map((v) => v * upstream);
      if (at.requiresGrad) assertClose(`${L.name} da a=b=[${shape}]`, await at.grad!.read(), ga, GRAD_TOL);
      else assert.is(at.grad, null);
      if (bt.requiresGrad)
        assertClose(
          `${L.name} db a=b=[${shape}]`,
          await bt.grad!.read(),
          ga.map((v) => -v),
          GRAD_TOL,
        );
      else assert.is(bt.grad, null);
      disposeAll([at.grad, bt.grad, at, bt, loss, g]);
    });
  });
}

test('l1Loss gradient is exactly 0 at a tie a=b=[5,7]', async () => {
  const rng = new Rng(12);
  const a = randomF32(rng, 35);
  const b = randomF32(rng, 35);
  for (let i = 0; i < 35; i += 3) b[i] = a[i];
  const at = Tensor.from(a, [5, 7]);
  const bt = Tensor.from(b, [5, 7]);
  at.requiresGrad = true;
  const loss = l1Loss(at, bt);
  backward(loss);
  const g = await at.grad!.read();
  for (let i = 0; i < 35; i++) {
    if (i % 3 === 0) assert.is(g[i], 0, `tie at ${i} has gradient ${g[i]}`);
    else assert.is(Math.abs(g[i]), Math.fround(1 / 35), `element ${i} has gradient ${g[i]}`);
  }
  disposeAll([at.grad, at, bt, loss]);
});

for (const L of LOSSES) {
  test(`${L.name} reference gradient vs finite differences a=b=[2,3]`, () => {
    const rng = new Rng(8);
    // Values apart from each other, so no finite-difference step crosses an L1 kink.
    const a = Float64Array.from([0.5, -1.25, 2, 0.1, -0.7, 1.3]);
    const b = rng.array(6, () => rng.uniform(-0.05, 0.05)).map((v, i) => a[i] + (i % 2 ? 0.4 : -0.3) + v);
    const numeric = numericGrad((aa) => L.ref(aa, b), a);
    assertClose(`${L.name} ref grad vs FD a=b=[2,3]`, L.gradRef(a, b), numeric, FD_TOL);
  });

  test(`${L.name} bad calls throw before dispatch, naming the op and the shapes`, () => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([3, 2]);
    const i = Tensor.zeros([2, 3], 'i32');
    const e = Tensor.zeros([0, 3]);
    assert.throws(
      () => L.op(a, b),
      new RegExp(`${L.name}: inputs must be f32 tensors of the same shape, got tensor\\[2,3\\] f32 and tensor\\[3,2\\] f32`),
    );
    assert.throws(() => L.op(a, i), new RegExp(`${L.name}: .*i32`));
    assert.throws(() => L.op(e, e), new RegExp(`${L.name}: inputs \\[0,3\\] are empty`));
    disposeAll([a, b, i, e]);
  });
}

test.run();
