// @smoke-gl
/**
 * SGD with and without momentum: several steps over parameters of awkward sizes vs the float64
 * reference of PyTorch's update rule (weight decay on, a null gradient, whose momentum buffer
 * then starts late), the first step's closed form, and a checkpoint round trip.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, type Tol } from '../helpers/gpu.ts';
import { makeParams, gradSchedule, stepWith, PARAM_SHAPES } from '../helpers/optim.ts';
import { Tensor, disposeAll } from '../../engine/tensor.ts';
import { SGD } from '../../engine/optim/sgd.ts';
import { sgdStepRef, type SgdRefState } from '../../engine/reference/sgd.ts';

test.before(async () => {
  await gpu();
});

/**
 * Per step: the decayed gradient, the buffer and the new parameter each round once (values up
 * to ~5 with momentum 0.9), so a few ulps of O(1) values per step; under 2e-6 over 6 steps.
 */
const TOL_SGD: Tol = { atol: 2e-6, rtol: 1e-6 };
const STEPS = 6;

for (const momentum of [0, 0.9]) {
  test(`SGD momentum=${momentum} ${STEPS} steps vs reference, weightDecay 0.05, a null grad; params ${PARAM_SHAPES.map((s) => `[${s}]`).join(' ')}`, async () => {
    const lr = 0.1, weightDecay = 0.05;
    const { host, tensors } = makeParams(11);
    // Parameter 1 has no gradient on steps 0 and 1: its momentum buffer starts at step 2.
    const grads = gradSchedule(12, STEPS, (s, i) => i === 1 && s < 2);
    const opt = new SGD(tensors, { lr, momentum, weightDecay });
    const ref: SgdRefState[] = host.map(() => ({ buf: null }));
    for (let s = 0; s < STEPS; s++) {
      stepWith(opt, tensors, grads[s]);
      grads[s].forEach((g, i) => {
        if (g) sgdStepRef(host[i], g, ref[i], lr, momentum, weightDecay);
      });
    }
    const state = await opt.state();
    for (let i = 0; i < tensors.length; i++) {
      assertClose(`SGD momentum=${momentum} param ${i} [${PARAM_SHAPES[i]}]`, await tensors[i].read(), host[i], TOL_SGD);
      if (momentum > 0) assertClose(`SGD momentum buffer ${i}`, state.params[i].slots.momentum, ref[i].buf!, TOL_SGD);
      else assert.equal(Object.keys(state.params[i].slots), [], 'plain SGD keeps no buffer');
    }
    opt.dispose();
    disposeAll(tensors);
  });
}

test('SGD first step is p - lr * (g + wd * p) with or without momentum x=[257]', async () => {
  // Closed form, independent of the reference: the buffer starts as the (decayed) gradient.
  const n = 257;
  const p0 = Float64Array.from({ length: n }, (_, i) => Math.fround(Math.cos(i)));
  const g = Float64Array.from({ length: n }, (_, i) => Math.fround(Math.sin(3 * i)));
  for (const momentum of [0, 0.9]) {
    const p = Tensor.from(p0, [n]).keep();
    const opt = new SGD([p], { lr: 0.5, momentum, weightDecay: 0.25 });
    p.grad = Tensor.from(g, [n]).keep();
    opt.step();
    assertClose(`SGD momentum=${momentum} step 1 closed form [257]`, await p.read(), Array.from(p0, (x, i) => x - 0.5 * (g[i] + 0.25 * x)), { atol: 1e-7, rtol: 1e-6 });
    opt.zeroGrad();
    opt.dispose();
    p.dispose();
  }
});

test('SGD momentum state()/loadState() round trip continues bit for bit', async () => {
  const opts = { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 };
  const grads = gradSchedule(21, 5);
  const a = makeParams(22).tensors;
  const optA = new SGD(a, opts);
  for (let s = 0; s < 2; s++) stepWith(optA, a, grads[s]);
  const saved = await optA.state();
  const savedParams = await Promise.all(a.map((t) => t.read()));
  for (let s = 2; s < 5; s++) stepWith(optA, a, grads[s]);
  const b = savedParams.map((d, i) => {
    const t = Tensor.from(d, PARAM_SHAPES[i]).keep();
    t.requiresGrad = true;
    return t;
  });
  const optB = new SGD(b, opts);
  optB.loadState(saved);
  for (let s = 2; s < 5; s++) stepWith(optB, b, grads[s]);
  for (let i = 0; i < a.length; i++) assert.equal(await b[i].read(), await a[i].read(), `param ${i} differs after resuming`);
  assert.equal(await optB.state(), await optA.state());
  // A state with momentum buffers cannot go into plain SGD.
  const plain = new SGD(b, { lr: 0.05 });
  assert.throws(() => plain.loadState(saved), /SGD.loadState: parameter 0 has slots \[momentum\], expected \[\] \(was the optimizer configured differently/);
  optA.dispose();
  optB.dispose();
  disposeAll([...a, ...b]);
});

test('SGD: bad hyperparameters throw, naming the setting', () => {
  const p = Tensor.zeros([2]).keep();
  assert.throws(() => new SGD([p], { lr: 0.1, momentum: -0.5 }), /SGD: momentum must be a finite number >= 0, got -0.5/);
  assert.throws(() => new SGD([p], { lr: 0.1, weightDecay: NaN }), /SGD: weightDecay must be a finite number >= 0, got NaN/);
  p.dispose();
});

test.run();
