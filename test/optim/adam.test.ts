// @smoke-gl
/**
 * Adam and AdamW: several steps over parameters of awkward sizes vs the float64 reference of
 * PyTorch's update rules (weight decay on, a null gradient, a learning-rate change), the
 * first step's closed form, and checkpoint round trips that continue bit for bit.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, type Tol } from '../helpers/gpu.ts';
import { makeParams, gradSchedule, stepWith, PARAM_SHAPES } from '../helpers/optim.ts';
import { Tensor, disposeAll } from '../../engine/tensor.ts';
import { Adam, AdamW } from '../../engine/optim/adam.ts';
import { adamStepRef, adamRefState } from '../../engine/reference/adam.ts';

test.before(async () => {
  await gpu();
});

/**
 * Each step rounds the moments, the update (a quotient of float32 values, ~4 roundings) and the
 * new parameter (|p| ~ 1): a few float32 ulps of O(1) values per step. Over 6 steps that stays
 * under 2e-6 absolute; rtol covers the parameters that grow beyond 1.
 */
const PARAM_TOL: Tol = { atol: 2e-6, rtol: 1e-6 };
/** The moments are two-term recurrences in float32: a couple of roundings per step. */
const MOMENT_TOL: Tol = { atol: 1e-7, rtol: 2e-6 };

const STEPS = 6;
const VARIANTS = [
  { kind: 'Adam', make: (p: Tensor[], o: ConstructorParameters<typeof Adam>[1]) => new Adam(p, o), decoupled: false },
  { kind: 'AdamW', make: (p: Tensor[], o: ConstructorParameters<typeof AdamW>[1]) => new AdamW(p, o), decoupled: true },
] as const;

for (const v of VARIANTS) {
  test(`${v.kind} ${STEPS} steps vs reference, weightDecay 0.1, a null grad, lr change; params ${PARAM_SHAPES.map((s) => `[${s}]`).join(' ')}`, async () => {
    const hyper = { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 };
    const { host, tensors } = makeParams(1);
    const grads = gradSchedule(2, STEPS);
    const opt = v.make(tensors, { lr: hyper.lr, betas: [hyper.beta1, hyper.beta2], eps: hyper.eps, weightDecay: hyper.weightDecay });
    const ref = host.map((h) => adamRefState(h.length));
    for (let s = 0; s < STEPS; s++) {
      // Halve the learning rate after step 3, as a scheduler would.
      const lr = s >= 3 ? hyper.lr / 2 : hyper.lr;
      opt.lr = lr;
      stepWith(opt, tensors, grads[s]);
      grads[s].forEach((g, i) => {
        if (g) adamStepRef(host[i], g, ref[i], { ...hyper, lr, decoupled: v.decoupled });
      });
    }
    const state = await opt.state();
    assert.is(state.step, STEPS);
    for (let i = 0; i < tensors.length; i++) {
      const name = `${v.kind} param ${i} [${PARAM_SHAPES[i]}]`;
      assertClose(`${name} after ${STEPS} steps`, await tensors[i].read(), host[i], PARAM_TOL);
      assertClose(`${name} exp_avg`, state.params[i].slots.expAvg, ref[i].m, MOMENT_TOL);
      assertClose(`${name} exp_avg_sq`, state.params[i].slots.expAvgSq, ref[i].v, MOMENT_TOL);
      // Parameter 1 had no gradient once: its own step count (bias correction) is one less.
      assert.is(state.params[i].step, ref[i].t);
    }
    assert.is(state.params[1].step, STEPS - 1);
    opt.dispose();
    disposeAll(tensors);
  });
}

test('Adam first step with default betas moves each weight by lr * g / (|g| + eps) x=[257] (bug: 1 - beta2 cancelled in float32)', async () => {
  // After one step m_hat = g and sqrt(v_hat) = |g| exactly: a closed form independent of the reference.
  const g = Float64Array.from({ length: 257 }, (_, i) => Math.fround(Math.sin(i + 1) * 2));
  const p = Tensor.zeros([257]).keep();
  const opt = new Adam([p], { lr: 0.125, eps: 1e-3 });
  p.grad = Tensor.from(g, [257]).keep();
  opt.step();
  assertClose(
    'Adam step 1 closed form [257]',
    await p.read(),
    Array.from(g, (x) => (-0.125 * x) / (Math.abs(x) + 1e-3)),
    { atol: 1e-8, rtol: 1e-6 },
  );
  opt.zeroGrad();
  opt.dispose();
  p.dispose();
});

for (const v of VARIANTS) {
  test(`${v.kind} state()/loadState() round trip continues bit for bit`, async () => {
    const opts = { lr: 0.003, betas: [0.9, 0.999] as [number, number], weightDecay: 0.01 };
    const grads = gradSchedule(7, 6);
    // Run A: 6 uninterrupted steps.
    const a = makeParams(3).tensors;
    const optA = v.make(a, opts);
    for (let s = 0; s < 3; s++) stepWith(optA, a, grads[s]);
    // Checkpoint after 3 steps: parameters and optimizer state to the host.
    const saved = await optA.state();
    const savedParams = await Promise.all(a.map((t) => t.read()));
    for (let s = 3; s < 6; s++) stepWith(optA, a, grads[s]);
    // Run B: a fresh process would rebuild the model, load both, and continue.
    const b = savedParams.map((d, i) => {
      const t = Tensor.from(d, PARAM_SHAPES[i]).keep();
      t.requiresGrad = true;
      return t;
    });
    const optB = v.make(b, { ...opts, lr: 1 });
    optB.loadState(saved);
    assert.is(optB.lr, opts.lr, 'loadState restores the learning rate');
    for (let s = 3; s < 6; s++) stepWith(optB, b, grads[s]);
    for (let i = 0; i < a.length; i++) {
      assert.equal(await b[i].read(), await a[i].read(), `param ${i} differs after resuming`);
    }
    const [sa, sb] = [await optA.state(), await optB.state()];
    assert.equal(sb, sa, 'optimizer states differ after resuming');
    optA.dispose();
    optB.dispose();
    disposeAll([...a, ...b]);
  });
}

test('Adam: bad hyperparameters, foreign or mismatched states and wrong gradients throw, naming the remedy', async () => {
  const p = Tensor.zeros([4]).keep();
  assert.throws(() => new Adam([p], { lr: -1 }), /Adam: lr must be a finite number >= 0, got -1/);
  assert.throws(() => new AdamW([p], { lr: 1e-3, betas: [0.9, 1] }), /AdamW: betas\[1\] must be a finite number in \[0, 1\), got 1/);
  assert.throws(() => new Adam([p], { lr: 1e-3, eps: NaN }), /Adam: eps must be/);
  assert.throws(() => new Adam([], { lr: 1e-3 }), /Adam: no parameters/);
  assert.throws(() => new Adam([p, p], { lr: 1e-3 }), /appears twice/);
  const opt = new Adam([p], { lr: 1e-3 });
  assert.throws(() => (opt.lr = Infinity), /Adam: lr must be a finite number/);
  p.grad = Tensor.zeros([5]).keep();
  assert.throws(() => opt.step(), /Adam.step: gradient tensor\[5\] f32 does not match parameter 0 tensor\[4\] f32/);
  opt.zeroGrad();
  const adamWState = await new AdamW([p], { lr: 1 }).state();
  assert.throws(() => opt.loadState(adamWState), /Adam.loadState: the state is from AdamW; create a AdamW optimizer/);
  const q = Tensor.zeros([3]).keep();
  q.grad = Tensor.zeros([3]).keep();
  const other = new Adam([q], { lr: 1e-3 });
  other.step();
  const otherState = await other.state();
  assert.throws(() => opt.loadState(otherState), /Adam.loadState: slot 'expAvg' of parameter 0 has 3 values; parameter \[4\] needs 4/);
  other.zeroGrad();
  opt.dispose();
  other.dispose();
  disposeAll([p, q]);
});

test.run();
