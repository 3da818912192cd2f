/**
 * Slide- and patient-level results: the aggregation (mean of tile probabilities), bootstrap
 * intervals that resample slides (with 4 slides every resampled accuracy is a multiple of 1/4,
 * which resampling tiles would not give), and `rbd eval` on data tiled by `rbd tile` writing
 * splits.<split>.slides and .patients with n, accuracy, accuracyCI, macroAuc.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gpu } from '../helpers/gpu.ts';
import { ResNet } from '../../models/resnet.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { groupReport } from '../../train/group_metrics.ts';
import { evaluateCheckpoint } from '../../train/evaluate.ts';
import { readJson } from '../../util/files.ts';
import { tileSlides } from '../../data/slide/tile.ts';
import { tempDir } from '../data/fixtures.ts';
import { renderSlide, writeAperio } from '../data/slide_fixtures.ts';

const tmp = tempDir('group');
test.after(() => tmp.cleanup());

test('groupReport: mean of tile probabilities per slide; CI bounds are whole slides out of 4', () => {
  // 4 slides, 2 classes; logits [tile] -> probabilities via softmax. Slide s3 has one confident
  // wrong tile and two weakly right ones: its tile majority is right, its mean is wrong.
  const L = Math.log;
  const tiles: [string, number, number][] = [
    // slide, label, logit of class 1 (class 0 has logit 0): p1 = 1 / (1 + e^-x)
    ['s1', 0, -2],
    ['s1', 0, -1],
    ['s2', 1, 2],
    ['s2', 1, 1],
    ['s2', 1, 3],
    ['s3', 0, L(0.45 / 0.55)],
    ['s3', 0, L(0.45 / 0.55)],
    ['s3', 0, L(0.99 / 0.01)],
    ['s4', 1, 0.5],
  ];
  const logits = tiles.flatMap(([, , x]) => [0, x]);
  const r = groupReport(
    logits,
    tiles.map((t) => t[1]),
    tiles.map((t) => t[0]),
    2,
    { resamples: 400, seed: 1 },
  );
  assert.is(r.n, 4);
  // s3: mean p1 = (0.45 + 0.45 + 0.99) / 3 = 0.63 -> class 1, wrong; the other three right.
  assert.is(r.accuracy, 0.75);
  for (const v of r.accuracyCI) assert.ok(Math.abs(v * 4 - Math.round(v * 4)) < 1e-9 || (v > 0 && v < 1), `bound ${v}`);
  assert.ok(r.accuracyCI[0] <= 0.75 && r.accuracyCI[1] >= 0.75);
  // Class-1 scores: s1 low, s3 0.63 (label 0), s2 high, s4 0.62 (label 1): s3 > s4 is the one
  // misordered pair of 4, AUC 3/4 for class 1 and (by symmetry of two classes) for class 0.
  assert.ok(Math.abs(r.macroAuc - 0.75) < 1e-12, `macro AUC ${r.macroAuc}`);
  assert.throws(() => groupReport([0, 1, 0, 1], [0, 1], ['a', 'a'], 2), /two classes/);
});

test('rbd eval on tiled slides: eval.json has splits.<split>.slides and .patients (n = slides, patients)', async () => {
  await gpu();
  const level0 = renderSlide(768, 512, 512, 21);
  const names = ['a1', 'a2', 'b1', 'b2', 'c1', 'c2', 'c3', 'd1'];
  writeAperio(join(tmp.dir, 'base.svs'), level0);
  for (const n of names) copyFileSync(join(tmp.dir, 'base.svs'), join(tmp.dir, `${n}.svs`));
  const csv = join(tmp.dir, 'labels.csv');
  // Explicit splits: test holds three slides of two patients; d1 shares P4 with b2 (val) but
  // has the other class, so val has no patient-level result.
  writeFileSync(
    csv,
    'slide,label,patient,split\na1,x,P1,train\na2,y,P2,train\nb1,x,P3,val\nb2,y,P4,val\nd1,x,P4,val\nc1,x,P5,test\nc2,x,P5,test\nc3,y,P6,test\n',
  );
  const data = join(tmp.dir, 'tiles');
  await tileSlides({
    slides: names.map((n) => join(tmp.dir, `${n}.svs`)),
    out: data,
    mags: ['10x', '5x'],
    tile: 32,
    labels: csv,
    workers: 0,
  });
  const arch = { planes: [8, 16, 32, 64], layers: [1, 1, 1, 1], norm: 'group' as const, groups: 4, numClasses: 2, inChannels: 3 };
  const model = new ResNet(arch, 3);
  const ckpt = join(tmp.dir, 'm.safetensors');
  await saveCheckpoint(ckpt, model, {
    classNames: ['x', 'y'],
    magnification: 10,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
  });
  model.dispose();
  const out = join(tmp.dir, 'eval');
  await evaluateCheckpoint({
    checkpoint: ckpt,
    data,
    splits: ['val', 'test'],
    mag: '',
    batch: 8,
    resamples: 50,
    seed: 0,
    out,
    allowUpsampled: false,
    skipBad: false,
  });
  type G = { n: number; accuracy: number; accuracyCI: number[]; macroAuc: number };
  const json = readJson(join(out, 'eval.json')) as {
    splits: Record<string, { count: number; slides: G; patients?: G; patientsSkipped?: string }>;
  };
  assert.is(json.splits.test.slides.n, 3);
  assert.is(json.splits.test.patients!.n, 2);
  assert.is(json.splits.val.slides.n, 3);
  assert.is(json.splits.val.patients, undefined);
  assert.match(json.splits.val.patientsSkipped!, /'P4' has tiles of two classes/);
  for (const s of Object.values(json.splits)) {
    assert.ok(s.count > s.slides.n, 'tile count above slide count');
    assert.ok(
      [0, 1 / 3, 2 / 3, 1].some((v) => Math.abs(v - s.slides.accuracy) < 1e-12),
      `slide accuracy ${s.slides.accuracy}`,
    );
    assert.is(s.slides.accuracyCI.length, 2);
    assert.ok(Number.isFinite(s.slides.macroAuc));
  }
});

test.run();
