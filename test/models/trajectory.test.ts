/**
 * A pinned 10-step distillation trajectory: a tiny group-norm ResNet student trained 10 Adam
 * steps on the GPU against a frozen teacher reproduces, step by step, the loss values of the
 * float64 reference path (the reference ResNet forward and its analytic backward,
 * test/models/reference_resnet.ts, the reference KL / MSE / adaptive max pool, and the float64
 * Adam step of engine/reference/adam.ts), both starting from the same float32 weights.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { backward, noGrad } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { Adam } from '../../engine/optim/adam.ts';
import { ResNet } from '../../models/resnet.ts';
import { presetArch } from '../../models/arch.ts';
import { distillLoss, type DistillLossOptions } from '../../train/distill_loss.ts';
import { referenceResNetForward, referenceResNetBackward } from './reference_resnet.ts';
import { klDivDistillRef, klDivDistillGradRef } from '../../engine/reference/kl_div.ts';
import { mseLossRef, mseLossGradRef } from '../../engine/reference/mse_loss.ts';
import { adaptiveMaxPoolForward } from '../../engine/reference/adaptive_pool2d.ts';
import { adamRefState, adamStepRef, type AdamRefState } from '../../engine/reference/adam.ts';
import type { Shape4 } from '../../engine/reference/conv2d.ts';

// Three stages, GroupNorm with 2 groups, 3 classes; student tiles 24x20 (2x2 stage-3 map), the
// teacher's at twice the magnification 48x40 (3x3 map, max-pooled to 2x2 for the pixel loss).
const ARCH = presetArch('rbd', { planes: [4, 4, 8], layers: [1, 1, 1], groups: 2, numClasses: 3 });
const N = 2;
const STUDENT: Shape4 = [N, 3, 24, 20];
const TEACHER: Shape4 = [N, 3, 48, 40];
const LOSS: DistillLossOptions = { temperature: 2, softWeight: 1, pixelWeight: 1, pixelLoss: 'l2', resize: 'maxpool', ceWeight: 0 };
const ADAM = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, decoupled: false };
const STEPS = 10;

test.before(async () => {
  await gpu();
});

async function stateOf(model: ResNet): Promise<Map<string, Float64Array>> {
  const state = new Map<string, Float64Array>();
  for (const [name, p] of model.stateDict()) state.set(name, Float64Array.from(await p.read()));
  return state;
}

test(`distillation trajectory: ${STEPS} Adam steps on the GPU reproduce the float64 reference losses`, async () => {
  const rng = new Rng(7);
  const student = new ResNet(ARCH, 11);
  const teacher = new ResNet(ARCH, 12).eval();
  // One batch per step, seeded; inputs float32-exact so both sides see the same numbers.
  const batches = Array.from({ length: STEPS }, () => ({
    s: Float64Array.from(
      Float32Array.from(
        rng.array(
          STUDENT.reduce((a, b) => a * b),
          () => rng.normal(),
        ),
      ),
    ),
    t: Float64Array.from(
      Float32Array.from(
        rng.array(
          TEACHER.reduce((a, b) => a * b),
          () => rng.normal(),
        ),
      ),
    ),
  }));

  // The float64 side starts from the very float32 weights the GPU holds.
  const refStudent = await stateOf(student);
  const refTeacher = await stateOf(teacher);
  const refAdam = new Map<string, AdamRefState>([...refStudent.keys()].map((k) => [k, adamRefState(refStudent.get(k)!.length)]));
  const names = student.namedParameters().map(([name]) => name);

  const optimizer = new Adam(student.parameters(), { lr: ADAM.lr, weightDecay: ADAM.weightDecay });
  const gpuLosses: number[] = [];
  const refLosses: number[] = [];
  for (const batch of batches) {
    // GPU step.
    const t = noGrad(() => teacher.forward(Tensor.from(batch.t, TEACHER)));
    const loss = tidy(() => distillLoss(student.forward(Tensor.from(batch.s, STUDENT)), t, LOSS).loss);
    gpuLosses.push(await loss.item());
    backward(loss);
    loss.dispose();
    t.logits.dispose();
    t.features.dispose();
    optimizer.step();
    optimizer.zeroGrad();

    // Reference step.
    const tr = referenceResNetForward(ARCH, refTeacher, batch.t, TEACHER, false);
    const sr = referenceResNetForward(ARCH, refStudent, batch.s, STUDENT, true);
    const [, c, hs, ws] = sr.featuresShape;
    const target = adaptiveMaxPoolForward(tr.features, { n: N, c, h: tr.featuresShape[2], w: tr.featuresShape[3], oh: hs, ow: ws }).y;
    const shape: [number, number] = [N, ARCH.numClasses];
    refLosses.push(
      LOSS.softWeight * klDivDistillRef(sr.logits, tr.logits, shape, LOSS.temperature) + LOSS.pixelWeight * mseLossRef(sr.features, target),
    );
    const dLogits = klDivDistillGradRef(sr.logits, tr.logits, shape, LOSS.temperature).map((v) => v * LOSS.softWeight);
    const dFeatures = mseLossGradRef(sr.features, target).map((v) => v * LOSS.pixelWeight);
    const grads = referenceResNetBackward(ARCH, refStudent, batch.s, STUDENT, dFeatures, dLogits);
    for (const name of names) adamStepRef(refStudent.get(name)!, grads.get(name)!, refAdam.get(name)!, ADAM);
  }
  console.log(`    losses GPU ${gpuLosses.map((v) => v.toFixed(6)).join(' ')}`);
  console.log(`    float64    ${refLosses.map((v) => v.toFixed(6)).join(' ')}`);
  console.log(`    rel diff   ${gpuLosses.map((v, i) => (Math.abs(v - refLosses[i]) / refLosses[i]).toExponential(1)).join(' ')}`);
  assert.ok(refLosses[STEPS - 1] < refLosses[0], 'the trajectory trains: the loss falls');
  // Tolerance 4e-6 relative, derived: the loss is the end of a chain of about 30 float32 steps
  // that each round once relative to their result (7 convolutions, 7 group norms, pools, the
  // head, the two loss terms), so the float32 forward is within 30 * EPS32 = 3.6e-6 of the
  // float64 one at equal weights (measured at step 0: 5e-8). Adam then moves every weight by at
  // most lr per step on both sides alike; the float32 rounding of the gradients changes those
  // moves only in low bits, which measured 1e-7 to 5e-7 over the 10 steps, under that bound.
  assertClose('trajectory losses', gpuLosses, refLosses, { atol: 0, rtol: 4e-6 });
  student.dispose();
  teacher.dispose();
});

test.run();
