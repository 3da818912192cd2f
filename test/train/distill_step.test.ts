/**
 * One distillation step on a tiny network: the GPU gradients of the student's parameters (the
 * whole chain: ResNet forward, soft KL, resize of the teacher map, pixel loss, weights, backward)
 * against central finite differences of the same loss computed in float64 on the CPU from the
 * reference ops (test/models/reference_resnet.ts, engine/reference/). The teacher gets no gradient.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, numericGrad } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { backward, noGrad } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { ResNet, type ResNetOutput } from '../../models/resnet.ts';
import { presetArch } from '../../models/arch.ts';
import { referenceResNetForward } from '../models/reference_resnet.ts';
import { klDivDistillRef } from '../../engine/reference/kl_div.ts';
import { mseLossRef } from '../../engine/reference/mse_loss.ts';
import { l1LossRef } from '../../engine/reference/l1_loss.ts';
import { adaptiveMaxPoolForward } from '../../engine/reference/adaptive_pool2d.ts';
import { bicubicForward } from '../../engine/reference/bicubic_resize.ts';
import type { Shape4 } from '../../engine/reference/conv2d.ts';
import { distillLoss, type DistillLossOptions } from '../../train/distill_loss.ts';

test.before(async () => {
  await gpu();
});

// Three stages (total stride 16), GroupNorm with 2 groups, 3 classes: a student tile of 24x20
// gives a 2x2 stage-3 map; the teacher's tile at twice the magnification (48x40) a 3x3 map, so
// the resize (3x3 -> 2x2) has overlapping max-pool bins and non-trivial bicubic taps.
const ARCH = presetArch('rbd', { planes: [4, 4, 8], layers: [1, 1, 1], groups: 2, numClasses: 3 });
const N = 2;
const STUDENT: Shape4 = [N, 3, 24, 20];
const TEACHER: Shape4 = [N, 3, 48, 40];

/** Float64 distillation loss of the student's reference forward (the test's independent side). */
function referenceLoss(
  state: Map<string, Float64Array>,
  x: Float64Array,
  teacherLogits: Float64Array,
  teacherFeatures: Float64Array,
  tShape: Shape4,
  o: DistillLossOptions,
): number {
  const s = referenceResNetForward(ARCH, state, x, STUDENT, true);
  const [, c, hs, ws] = s.featuresShape;
  const shape = { n: N, c, h: tShape[2], w: tShape[3], oh: hs, ow: ws };
  let target: Float64Array;
  if (o.resize === 'maxpool') target = adaptiveMaxPoolForward(teacherFeatures, shape).y;
  else if (o.resize === 'bicubic') target = bicubicForward(teacherFeatures, shape);
  else {
    const m = adaptiveMaxPoolForward(teacherFeatures, shape).y;
    const b = bicubicForward(teacherFeatures, shape);
    target = m.map((v, i) => (v + b[i]) / 2);
  }
  const pixel = o.pixelLoss === 'l2' ? mseLossRef(s.features, target) : l1LossRef(s.features, target);
  return o.softWeight * klDivDistillRef(s.logits, teacherLogits, [N, ARCH.numClasses], o.temperature) + o.pixelWeight * pixel;
}

/** Parameters checked, and a few entries of each (random, seeded). */
const CHECKED = [
  'conv_1.weight',
  'norm_1.weight',
  'layer_2.0.conv_1.weight',
  'layer_3.0.downsample.0.weight',
  'layer_3.0.norm_2.bias',
  'fc.weight',
  'fc.bias',
];

for (const o of [
  { temperature: 2, softWeight: 0.7, pixelWeight: 1.3, pixelLoss: 'l2', resize: 'maxpool+bicubic', ceWeight: 0 },
  { temperature: 1, softWeight: 1, pixelWeight: 0.5, pixelLoss: 'l1', resize: 'bicubic', ceWeight: 0 },
  { temperature: 4, softWeight: 1, pixelWeight: 1, pixelLoss: 'l2', resize: 'maxpool', ceWeight: 0 },
] as DistillLossOptions[]) {
  test(`distillation step gradients vs float64 finite differences: student x=[${STUDENT}] teacher x=[${TEACHER}] T=${o.temperature} ${o.pixelLoss} ${o.resize} weights ${o.softWeight}/${o.pixelWeight}`, async () => {
    const rng = new Rng(42);
    const student = new ResNet(ARCH, 1);
    const teacher = new ResNet(ARCH, 2).eval();
    const xs = rng.array(
      STUDENT.reduce((a, b) => a * b),
      () => rng.normal(),
    );
    const xt = rng.array(
      TEACHER.reduce((a, b) => a * b),
      () => rng.normal(),
    );
    const t: ResNetOutput = noGrad(() => teacher.forward(Tensor.from(xt, TEACHER)));
    const loss = tidy(() => distillLoss(student.forward(Tensor.from(xs, STUDENT)), t, o).loss);
    const gpuLoss = await loss.item();
    backward(loss);
    loss.dispose();
    for (const p of teacher.parameters()) assert.is(p.grad, null, `teacher parameter ${p.name} got a gradient`);
    const teacherLogits = Float64Array.from(await t.logits.read());
    const teacherFeatures = Float64Array.from(await t.features.read());
    const tShape = t.features.shape as unknown as Shape4;
    const state = new Map<string, Float64Array>();
    for (const [name, p] of student.stateDict()) state.set(name, Float64Array.from(await p.read()));
    // The float32 GPU loss against the float64 reference (a forward chain of ~15 ops): 1e-4 relative.
    assertClose('loss', [gpuLoss], [referenceLoss(state, xs, teacherLogits, teacherFeatures, tShape, o)], { atol: 1e-5, rtol: 1e-4 });
    const params = new Map(student.namedParameters());
    for (const name of CHECKED) {
      const p = params.get(name)!;
      const g = (await p.grad!.read()) as Float32Array;
      const picks = rng.shuffle(Array.from({ length: p.size }, (_, i) => i)).slice(0, 4);
      const values = state.get(name)!;
      const sub = Float64Array.from(picks, (i) => values[i]);
      const fd = numericGrad((v) => {
        picks.forEach((i, k) => (values[i] = v[k]));
        return referenceLoss(state, xs, teacherLogits, teacherFeatures, tShape, o);
      }, sub);
      picks.forEach((i, k) => (values[i] = sub[k]));
      // float32 backward through the network vs float64 differences (error ~1e-9): the GPU side
      // dominates; sums over a few hundred terms per entry, so 1e-5 absolute + 1e-3 relative.
      assertClose(
        `d loss / d ${name}[${picks}]`,
        picks.map((i) => g[i]),
        fd,
        { atol: 1e-5, rtol: 1e-3 },
      );
    }
    t.logits.dispose();
    t.features.dispose();
    student.dispose();
    teacher.dispose();
  });
}

test('distillLoss: teacher map smaller than the student map is refused before dispatch', () => {
  const s = { logits: Tensor.zeros([1, 3]), features: Tensor.zeros([1, 8, 3, 3]) };
  const t = { logits: Tensor.zeros([1, 3]), features: Tensor.zeros([1, 8, 2, 3]) };
  assert.throws(
    () => distillLoss(s, t, { temperature: 1, softWeight: 1, pixelWeight: 1, pixelLoss: 'l2', resize: 'bicubic', ceWeight: 0 }),
    /teacher features \[1,8,2,3\].*student features \[1,8,3,3\]/,
  );
  for (const x of [s, t]) {
    x.logits.dispose();
    x.features.dispose();
  }
});

test.run();
