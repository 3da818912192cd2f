/**
 * The training loop on a tiny ResNet and random tensors (no data folder): resume continues
 * exactly (same weights as an uninterrupted run), a NaN loss stops the run naming the step and
 * leaves the last checkpoint untouched, and accumulation weights micro-batches by their images.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpu } from '../helpers/gpu.ts';
import { Tensor } from '../../engine/tensor.ts';
import { Rng } from '../../engine/random.ts';
import { Adam } from '../../engine/optim/adam.ts';
import { crossEntropy } from '../../engine/ops/cross_entropy.ts';
import { add } from '../../engine/ops/add.ts';
import { ResNet } from '../../models/resnet.ts';
import { presetArch } from '../../models/arch.ts';
import { trainLoop, DivergedError, type PlannedBatch } from '../../train/loop.ts';
import { saveTrainState, loadTrainState, RESUME_FILE } from '../../train/train_state.ts';
import { readJsonl } from '../../util/files.ts';

const tmp = mkdtempSync(join(tmpdir(), 'rbd-loop-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.before(async () => {
  await gpu();
});

// A tiny net: 4 stages of width 4 (GroupNorm 2 groups), 3 classes, 16x16 inputs (odd batch sizes below).
const ARCH = presetArch('rbd', { planes: [4, 4, 8, 8], groups: 2 });
const SIZE = 16;
const IMAGES = 10;

/** Random images and labels, fixed by seed: the "dataset". */
const rng = new Rng(1);
const images = Array.from({ length: IMAGES }, () => Float32Array.from(rng.array(3 * SIZE * SIZE, () => rng.normal())));
const labels = Array.from({ length: IMAGES }, (_, i) => i % 3);

interface Batch extends PlannedBatch {
  rows: number[];
}

/** Epoch plan: a shuffle seeded by the epoch, micro-batches of 3 (the last holds 1). */
function plan(epoch: number): Batch[] {
  const order = new Rng(100 + epoch).shuffle(Array.from({ length: IMAGES }, (_, i) => i));
  const out: Batch[] = [];
  for (let i = 0; i < order.length; i += 3) out.push({ rows: order.slice(i, i + 3), size: Math.min(3, order.length - i) });
  return out;
}

function makeSpec(dir: string, model: ResNet, opt: Adam, epochs: number, resume: boolean, poison?: { epoch: number; index: number }) {
  return {
    outDir: dir,
    epochs,
    accum: 2,
    lr: 3e-3,
    gamma: 0.9,
    optimizer: opt,
    resume,
    plan,
    load: async (b: Batch, epoch: number, index: number) => {
      const data = new Float32Array(b.size * 3 * SIZE * SIZE);
      b.rows.forEach((r, k) => data.set(images[r], k * 3 * SIZE * SIZE));
      return { data, labels: b.rows.map((r) => labels[r]), epoch, index, size: b.size };
    },
    forward: (l: { data: Float32Array; labels: number[]; epoch: number; index: number; size: number }, b: Batch) => {
      const x = Tensor.from(l.data, [b.size, 3, SIZE, SIZE]);
      const loss = crossEntropy(model.forward(x).logits, l.labels);
      if (poison && l.epoch === poison.epoch && l.index === poison.index) {
        // A NaN that reaches the loss value (and its gradient), as a diverging run's would.
        return { loss: add(loss, Tensor.from([NaN], loss.shape)) };
      }
      return { loss };
    },
    saveEpoch: (state: { epoch: number; steps: number; bestMetric: number | null }, improved: boolean) =>
      saveTrainState(dir, model, opt, state, improved, { training: { test: true } }),
    loadResume: async () => loadTrainState(dir, model, opt),
  };
}

async function weights(model: ResNet): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const p of model.parameters()) out.push((await p.read()) as Float32Array);
  return out;
}

test('resume after 2 of 4 epochs gives bit-identical weights to an uninterrupted 4-epoch run', async () => {
  const straightDir = join(tmp, 'straight');
  const a = new ResNet(ARCH, 7);
  const optA = new Adam(a.parameters(), { lr: 3e-3, weightDecay: 1e-4 });
  const full = await trainLoop(makeSpec(straightDir, a, optA, 4, false));
  assert.is(full.records.length, 4);
  const wantW = await weights(a);

  const resumedDir = join(tmp, 'resumed');
  const b1 = new ResNet(ARCH, 7);
  const optB1 = new Adam(b1.parameters(), { lr: 3e-3, weightDecay: 1e-4 });
  await trainLoop(makeSpec(resumedDir, b1, optB1, 2, false)); // "interrupted" after epoch 2
  b1.dispose();
  optB1.dispose();
  // A fresh process would build the model from another seed and then load the checkpoint.
  const b2 = new ResNet(ARCH, 999);
  const optB2 = new Adam(b2.parameters(), { lr: 3e-3, weightDecay: 1e-4 });
  const rest = await trainLoop(makeSpec(resumedDir, b2, optB2, 4, true));
  assert.equal(
    rest.records.map((r) => r.epoch),
    [2, 3],
  );
  const gotW = await weights(b2);
  gotW.forEach((w, i) =>
    assert.ok(
      w.every((v, k) => v === wantW[i][k]),
      `parameter ${b2.parameters()[i].name} differs after resume`,
    ),
  );
  // The log has each epoch once, with the same losses as the uninterrupted run.
  const logA = readJsonl<{ epoch: number; loss: number }>(join(straightDir, 'log.jsonl'));
  const logB = readJsonl<{ epoch: number; loss: number }>(join(resumedDir, 'log.jsonl'));
  assert.equal(
    logB.map((r) => r.epoch),
    [0, 1, 2, 3],
  );
  assert.equal(
    logB.map((r) => r.loss),
    logA.map((r) => r.loss),
  );
  // Steps: ceil(4 micro-batches / accum 2) = 2 per epoch.
  assert.is(rest.state.steps, 8);
  for (const m of [a, b2]) m.dispose();
  optA.dispose();
  optB2.dispose();
});

test('a NaN loss stops the run naming epoch and micro-batch; the last good checkpoint is unchanged', async () => {
  const dir = join(tmp, 'nan');
  const m = new ResNet(ARCH, 3);
  const opt = new Adam(m.parameters(), { lr: 3e-3 });
  await trainLoop(makeSpec(dir, m, opt, 1, false));
  const before = readFileSync(join(dir, RESUME_FILE));
  const wBefore = await weights(m);
  let caught: unknown = null;
  try {
    await trainLoop(makeSpec(dir, m, opt, 3, true, { epoch: 1, index: 2 }));
  } catch (e) {
    caught = e;
  }
  assert.instance(caught, DivergedError);
  const msg = (caught as Error).message;
  assert.match(msg, 'loss became NaN at epoch 2, micro-batch 3');
  assert.match(msg, join(dir, RESUME_FILE));
  assert.ok(readFileSync(join(dir, RESUME_FILE)).equals(before), 'the checkpoint was rewritten');
  // Micro-batch 3 is the first of the epoch's second step: the first step (micro-batches 1-2)
  // was applied, the poisoned one was not; the resume checkpoint still holds epoch 1's weights.
  const st = loadTrainState(dir, m, opt)!;
  assert.is(st.state.epoch, 0);
  const wAfter = await weights(m);
  wAfter.forEach((w, i) => assert.ok(w.every((v, k) => v === wBefore[i][k])));
  m.dispose();
  opt.dispose();
});

test.run();
