/**
 * Training with the ResNet end to end: a tiny run drives its loss down; GPU memory stays flat
 * over 50 steps (the graph and saved tensors are released each step); gradient accumulation
 * over several backward calls equals one backward of the summed loss and one batched step.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { memoryStats } from '../../engine/pool.ts';
import { Rng } from '../../engine/random.ts';
import { add } from '../../engine/ops/add.ts';
import { scale } from '../../engine/ops/scale.ts';
import { crossEntropy } from '../../engine/ops/cross_entropy.ts';
import { Adam } from '../../engine/optim/adam.ts';
import { ResNet } from '../../models/resnet.ts';
import type { ResNetArch } from '../../models/arch.ts';

test.before(async () => {
  await gpu();
});

const arch = (norm: 'group' | 'batch'): ResNetArch => ({
  planes: [8, 16, 32, 64],
  layers: [1, 1, 1, 1],
  norm,
  groups: 4,
  numClasses: 4,
  inChannels: 3,
});

function images(seed: number, shape: number[]): Tensor {
  const rng = new Rng(seed);
  return Tensor.from(
    rng.array(
      shape.reduce((a, b) => a * b, 1),
      () => rng.normal(0, 1),
    ),
    shape,
  );
}

/** One optimizer step on (x, labels); returns the loss tensor (kept, caller reads it). */
function trainStep(model: ResNet, opt: Adam, x: Tensor, labels: number[]): Tensor {
  opt.zeroGrad();
  const loss = tidy(() => {
    const l = crossEntropy(model.forward(x).logits, labels);
    backward(l);
    return l;
  });
  opt.step();
  return loss;
}

test('tiny training run: 20 Adam steps on x=[4,3,25,21], 4 classes, loss falls below a quarter of its start', async () => {
  const model = new ResNet(arch('group'), 3);
  const opt = new Adam(model.parameters(), { lr: 3e-3 });
  const x = images(1, [4, 3, 25, 21]);
  const labels = [0, 1, 2, 3];
  const losses: number[] = [];
  for (let i = 0; i < 20; i++) {
    const l = trainStep(model, opt, x, labels);
    losses.push(await l.item());
    l.dispose();
  }
  console.log(`    losses: ${losses.map((v) => v.toFixed(3)).join(' ')}`);
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses[19] < 0.25 * losses[0], `loss went from ${losses[0]} to ${losses[19]}`);
  opt.dispose();
  x.dispose();
  model.dispose();
});

for (const norm of ['group', 'batch'] as const) {
  test(`GPU memory stays flat over 50 training steps (${norm} norm, x=[2,3,25,21])`, async () => {
    const model = new ResNet(arch(norm), 4);
    const opt = new Adam(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
    const x = images(2, [2, 3, 25, 21]);
    const live: number[] = [];
    for (let i = 0; i < 50; i++) {
      const l = trainStep(model, opt, x, [1, 3]);
      await l.item();
      l.dispose();
      live.push(memoryStats().liveBytes);
    }
    // After step 1 (which creates gradients and Adam's moment buffers) nothing may accumulate.
    const grown = live.findIndex((b) => b !== live[0]);
    assert.is(grown, -1, `live bytes changed at step ${grown + 1}: ${live[0]} -> ${live[grown]}`);
    console.log(`    live bytes after every step: ${live[0]}`);
    opt.dispose();
    x.dispose();
    model.dispose();
  });
}

test('gradient accumulation: 3 backward calls == one backward of the summed loss == batch of 3 (GroupNorm) x=[1,3,29,27]', async () => {
  const model = new ResNet(arch('group'), 5);
  const xs = [0, 1, 2].map((i) => images(10 + i, [1, 3, 29, 27]));
  const labels = [2, 0, 3];
  const readGrads = async () => {
    const out: Float32Array[] = [];
    for (const p of model.parameters()) out.push((await p.grad!.read()) as Float32Array);
    model.zeroGrad();
    return out;
  };
  // (a) one backward per image; gradients accumulate in .grad.
  for (let i = 0; i < 3; i++) tidy(() => backward(crossEntropy(model.forward(xs[i]).logits, [labels[i]])));
  const accumulated = await readGrads();
  // (b) one backward of loss_0 + loss_1 + loss_2.
  tidy(() => {
    const l = xs.map((x, i) => crossEntropy(model.forward(x).logits, [labels[i]]));
    backward(add(add(l[0], l[1]), l[2]));
  });
  const summed = await readGrads();
  // (c) one batch of 3: cross-entropy is a mean, so 3x it is the sum; GroupNorm is per image.
  const batch = Tensor.from(new Float32Array([...(await xs[0].read()), ...(await xs[1].read()), ...(await xs[2].read())]), [3, 3, 29, 27]);
  tidy(() => backward(scale(crossEntropy(model.forward(batch).logits, labels), 3)));
  const batched = await readGrads();
  // Only float32 summation order differs between the three; TOL.grads allows for it.
  const flat = (gs: Float32Array[]) => Float32Array.from(gs.flatMap((g) => Array.from(g)));
  assertClose('summed-loss backward vs accumulated', flat(summed), flat(accumulated), TOL.grads);
  assertClose('batched backward vs accumulated', flat(batched), flat(accumulated), TOL.grads);
  for (const t of [...xs, batch]) t.dispose();
  model.dispose();
});

test.run();
