/**
 * The ResNet: PyTorch names and shapes, seeded init, the forward pass against a float64 CPU
 * forward composed from engine/reference/ ops (odd 97x83 inputs, batch 1 and 3, group norm,
 * batch norm in eval and training mode), and whole-network gradients against the float64 backward and finite differences
 * of that float64 forward.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL, dot, type Tol } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { backward, noGrad } from '../../engine/autograd.ts';
import { add } from '../../engine/ops/add.ts';
import { linear } from '../../engine/ops/linear.ts';
import { reshape } from '../../engine/ops/reshape.ts';
import { Rng } from '../../engine/random.ts';
import { ResNet } from '../../models/resnet.ts';
import { RBD_ARCH, presetArch, type ResNetArch } from '../../models/arch.ts';
import { countFlops } from '../../models/flops.ts';
import { referenceResNetForward, referenceResNetBackward } from './reference_resnet.ts';
import type { Shape4 } from '../../engine/reference/conv2d.ts';

test.before(async () => {
  await gpu();
});

/** A narrow net for speed: widths 8..64, GroupNorm(4) (4 divides every width), 5 classes. */
const narrow = (norm: 'group' | 'batch'): ResNetArch => ({
  planes: [8, 16, 32, 64],
  layers: [1, 1, 1, 1],
  norm,
  groups: 4,
  numClasses: 5,
  inChannels: 3,
});

/** Give every parameter and buffer random values (init's 1/0 norms would hide mistakes); return them in float64. */
function randomizeState(model: ResNet, rng: Rng): Map<string, Float64Array> {
  const state = new Map<string, Float64Array>();
  for (const [name, t] of model.stateDict()) {
    const isVar = name.endsWith('running_var');
    const isNormWeight = /norm_\d\.weight$|downsample\.1\.weight$/.test(name);
    const values = Float64Array.from(
      rng.array(t.size, () =>
        Math.fround(
          isVar
            ? rng.uniform(0.5, 2)
            : isNormWeight
              ? rng.uniform(0.5, 1.5)
              : name.endsWith('running_mean') || name.endsWith('bias')
                ? rng.uniform(-0.3, 0.3)
                : t.rank === 4
                  ? rng.normal(0, Math.sqrt(2 / (t.shape[1] * t.shape[2] * t.shape[3])))
                  : rng.normal(0, 0.3),
        ),
      ),
    );
    t.write(values);
    state.set(name, values);
  }
  return state;
}

async function readState(model: ResNet): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of model.stateDict()) out.set(name, (await t.read()) as Float32Array);
  return out;
}

test('rbd preset: PyTorch state_dict names and OIHW shapes', async () => {
  const model = new ResNet(RBD_ARCH, 0);
  const expected: Record<string, number[]> = {
    'conv_1.weight': [32, 3, 7, 7],
    'norm_1.weight': [32],
    'norm_1.bias': [32],
    'fc.weight': [3, 256],
    'fc.bias': [3],
  };
  const widths = [32, 64, 128, 256];
  widths.forEach((p, s) => {
    const inP = s === 0 ? 32 : widths[s - 1];
    const L = `layer_${s + 1}.0`;
    expected[`${L}.conv_1.weight`] = [p, inP, 3, 3];
    expected[`${L}.conv_2.weight`] = [p, p, 3, 3];
    for (const nm of ['norm_1', 'norm_2']) for (const k of ['weight', 'bias']) expected[`${L}.${nm}.${k}`] = [p];
    if (s > 0) {
      expected[`${L}.downsample.0.weight`] = [p, inP, 1, 1];
      expected[`${L}.downsample.1.weight`] = [p];
      expected[`${L}.downsample.1.bias`] = [p];
    }
  });
  const got = Object.fromEntries(model.stateDict().map(([n, t]) => [n, [...t.shape]]));
  assert.equal(Object.keys(got).sort(), Object.keys(expected).sort());
  for (const k of Object.keys(expected)) assert.equal(got[k], expected[k], k);
  assert.is(model.buffers().length, 0, 'group norm has no buffers');
  assert.ok(model.parameters().every((p) => p.requiresGrad));
  // The module tree and the FLOP counter's walk agree on the parameter count.
  assert.is(model.parameterCount(), countFlops(RBD_ARCH, [64, 64]).total.params);
  model.dispose();
});

test('batch norm adds running_mean / running_var buffers; ResNet-18 preset has two blocks per stage', () => {
  const bn = new ResNet(presetArch('rbd', { norm: 'batch' }), 0);
  const buffers = bn.namedBuffers().map(([n]) => n);
  assert.ok(buffers.includes('norm_1.running_mean') && buffers.includes('layer_3.0.downsample.1.running_var'));
  assert.is(buffers.length, 2 * (1 + 4 * 2 + 3));
  bn.dispose();
  const r18 = presetArch('resnet18');
  assert.equal(
    [r18.planes, r18.layers],
    [
      [64, 128, 256, 512],
      [2, 2, 2, 2],
    ],
  );
  assert.throws(() => new ResNet({ ...narrow('group'), groups: 3 }), /groups=3 must divide every width, but not 8, 16, 32, 64/);
});

test('init: same seed same weights, other seed other weights; Kaiming fan_out std, Linear U(+-1/sqrt(in)), norms 1/0', async () => {
  const a = await readState(new ResNet(RBD_ARCH, 7));
  const bModel = new ResNet(RBD_ARCH, 7);
  const b = await readState(bModel);
  const cModel = new ResNet(RBD_ARCH, 8);
  const c = await readState(cModel);
  for (const [k, v] of a) {
    assert.equal(Array.from(b.get(k)!), Array.from(v), `${k} same seed`);
    if (k.endsWith('conv_1.weight')) assert.not.equal(Array.from(c.get(k)!), Array.from(v), `${k} other seed`);
  }
  const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  // 589824 normal draws: the sample std is within ~0.1% of sqrt(2 / fan_out); allow 1%.
  const w = a.get('layer_4.0.conv_2.weight')!;
  const want = Math.sqrt(2 / (256 * 9));
  assert.ok(Math.abs(std(w) / want - 1) < 0.01, `conv std ${std(w)} vs ${want}`);
  // fc: U(-1/16, 1/16) has std (1/16)/sqrt(3); 768 draws: sample std within ~1.6% (1 sigma); allow 6%.
  const fc = a.get('fc.weight')!;
  assert.ok(fc.every((v) => Math.abs(v) <= 1 / 16));
  assert.ok(Math.abs(std(fc) / (1 / 16 / Math.sqrt(3)) - 1) < 0.06, `fc std ${std(fc)}`);
  assert.ok(a.get('layer_2.0.norm_1.weight')!.every((v) => v === 1) && a.get('layer_2.0.norm_1.bias')!.every((v) => v === 0));
  bModel.dispose();
  cModel.dispose();
});

/**
 * Forward tolerance. Each float32 conv output sums up to 9*64 = 576 products, then a norm
 * rescales by 1/std; across ~10 such layers relative rounding grows to a few 1e-6 of the O(1)
 * activations (measured worst: printed below). 1e-4 absolute + 1e-3 relative is ~10x that while
 * a wrong tap, group or statistic changes outputs by O(0.1).
 */
const FWD: Tol = { atol: 1e-4, rtol: 1e-3 };

for (const [norm, training, batch] of [
  ['group', true, 1],
  ['group', true, 3],
  ['batch', false, 1],
  ['batch', false, 3],
  ['batch', true, 3],
] as const) {
  const mode = norm === 'batch' ? (training ? ' train' : ' eval') : '';
  test(`forward vs float64 reference: ${norm} norm${mode} x=[${batch},3,97,83] planes=8,16,32,64`, async () => {
    const arch = narrow(norm);
    const model = new ResNet(arch, 1);
    model.train(training);
    const rng = new Rng(100 + batch);
    const state = randomizeState(model, rng);
    const shape: Shape4 = [batch, 3, 97, 83];
    const input = Float64Array.from(rng.array(batch * 3 * 97 * 83, () => Math.fround(rng.normal(0, 1))));
    const x = Tensor.from(input, shape);
    const out = noGrad(() => model.forward(x));
    const ref = referenceResNetForward(arch, state, input, shape, training);
    assert.equal([...out.features.shape], ref.featuresShape);
    assert.equal([...out.logits.shape], [batch, 5]);
    assertClose('features', await out.features.read(), ref.features, FWD);
    assertClose('logits', await out.logits.read(), ref.logits, FWD);
    if (norm === 'batch' && training) {
      // Running statistics were updated in place with PyTorch's momentum rule (unbiased variance).
      for (const [name, t] of model.namedBuffers()) assertClose(name, await t.read(), ref.runningStats.get(name)!, TOL.values);
    }
    for (const t of [x, out.features, out.logits]) t.dispose();
    model.dispose();
  });
}

/**
 * Whole-network gradient tolerance, absolute, relative to the parameter's largest |gradient|
 * (entries near zero carry the rounding of their larger neighbours' sums). The longest float32
 * reduction behind an entry is the stem's weight gradient over N*OH*OW = 2*19*15 = 570 pixels, so
 * by TOL.forLength's rule an entry is within EPS32 * 570 = 6.8e-5 of the scale: the ceiling.
 * Measured (lavapipe, all entries of every parameter for group norm; 3 seeded entries of every
 * parameter for batch norm against finite differences): worst 8e-7 of the scale with group norm,
 * 6.5e-6 with batch norm in training (its batch statistics tie every sample's gradient together).
 * So 1e-5 and 5e-5 of the scale: about 10x the worst, under the ceiling.
 */
function gradTol(norm: 'group' | 'batch', scale: number): Tol {
  return { atol: (norm === 'group' ? 1e-5 : 5e-5) * scale, rtol: 0 };
}

for (const norm of ['group', 'batch'] as const) {
  test(`whole-network gradients (every parameter, seeded entries) vs float64: ${norm} norm (train) x=[2,3,37,29]`, async () => {
    const arch = narrow(norm);
    const model = new ResNet(arch, 2);
    const rng = new Rng(200);
    const state = randomizeState(model, rng);
    const shape: Shape4 = [2, 3, 37, 29];
    const input = Float64Array.from(rng.array(2 * 3 * 37 * 29, () => Math.fround(rng.normal(0, 1))));
    const x = Tensor.from(input, shape);
    // loss = sum(logits * r) + sum(features * q): every output element weighted at random.
    const probe = noGrad(() => model.forward(x));
    const r = Float64Array.from(rng.array(probe.logits.size, () => Math.fround(rng.uniform(-1, 1))));
    const q = Float64Array.from(rng.array(probe.features.size, () => Math.fround(rng.uniform(-1, 1))));
    for (const t of [probe.features, probe.logits]) t.dispose();
    // Batch-norm running statistics move on every training forward; restore them for the GPU pass.
    for (const [name, t] of model.namedBuffers()) t.write(state.get(name)!);
    tidy(() => {
      const out = model.forward(x);
      // sum(a * b) as a 1-row linear layer: reshape a to [1, size], weight b [1, size].
      const weighted = (a: Tensor, b: Float64Array) => linear(reshape(a, [1, a.size]), Tensor.from(b, [1, a.size]), null);
      backward(add(weighted(out.logits, r), weighted(out.features, q)));
    });
    const refLoss = (s: Map<string, Float64Array>) => {
      const o = referenceResNetForward(arch, s, input, shape, true);
      return dot(o.logits, r) + dot(o.features, q);
    };
    // Seeded entries of every parameter: 3 each, at random positions.
    const pick = new Rng(300);
    const gpuGrads = new Map<string, Float32Array>();
    for (const [name, p] of model.namedParameters()) gpuGrads.set(name, (await p.grad!.read()) as Float32Array);
    const entries = [...gpuGrads.keys()].flatMap((name) => {
      const n = state.get(name)!.length;
      return Array.from({ length: Math.min(3, n) }, () => [name, Math.floor(pick.uniform(0, n))] as const);
    });
    const h = 1e-5;
    const fdVals = entries.map(([name, i]) => {
      const v = state.get(name)!;
      const old = v[i];
      v[i] = old + h;
      const fp = refLoss(state);
      v[i] = old - h;
      const fm = refLoss(state);
      v[i] = old;
      return (fp - fm) / (2 * h);
    });
    const scaleOf = (name: string) => gpuGrads.get(name)!.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    if (norm === 'group') {
      // Every entry of every parameter against the float64 analytic backward (reference_resnet.ts),
      // itself checked against the finite differences on the seeded entries (FD with h = 1e-5 on
      // a loss of O(10) in float64: truncation h^2 |f'''| ~ 1e-9, rounding 1e-16 * 10 / h = 1e-10).
      const ref = referenceResNetBackward(arch, state, input, shape, q, r);
      assertClose(
        `${norm}: float64 backward vs finite differences, ${entries.length} entries`,
        entries.map(([name, i]) => ref.get(name)![i]),
        fdVals,
        { atol: 1e-7, rtol: 1e-6 },
      );
      for (const [name, g] of gpuGrads) assertClose(`${norm}: d/d ${name}`, g, ref.get(name)!, gradTol(norm, scaleOf(name)));
    } else {
      for (const [k, [name, i]] of entries.entries())
        assertClose(`${norm}: d/d ${name}[${i}]`, [gpuGrads.get(name)![i]], [fdVals[k]], gradTol(norm, scaleOf(name)));
    }
    x.dispose();
    model.dispose();
  });
}

test('bad input is refused before dispatch with the expected shape', () => {
  const model = new ResNet(narrow('group'), 0);
  const x = Tensor.zeros([1, 4, 9, 9]);
  assert.throws(() => model.forward(x), /ResNet: input tensor\[1,4,9,9\] f32 must be f32 \[N, 3, H, W\]/);
  x.dispose();
  model.dispose();
});

test.run();
