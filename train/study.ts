/**
 * The main job (`npm start` = `rbd study`): from nothing to a report.
 *
 *  1. data: runs/data/<preset>-<classes>-t<tile>-s<seed>/ generated with data/'s synthesizer
 *     if it is not there yet (never inside git);
 *  2. calibration: a few timed training steps and forward passes at each input size on this
 *     adapter, which give the expected duration (printed before the long work starts) and the
 *     measured images/s of the report;
 *  3. the teacher at the top magnification (labels);
 *  4. per student magnification: baseline (labels only), KD on the labelled images (labels
 *     unused), KD plus the unlabeled pool;
 *  5. a sweep of the unlabeled-pool size at the lowest magnification;
 *  6. every model's best-validation checkpoint evaluated on the test split (bootstrap CIs);
 *  7. runs/<timestamp>/report.md, report.html, results.json, plots/.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, tidy } from '../engine/tensor.ts';
import { backward, noGrad } from '../engine/autograd.ts';
import { runtime } from '../engine/runtime.ts';
import { Rng } from '../engine/random.ts';
import { crossEntropy } from '../engine/ops/cross_entropy.ts';
import { synthesize } from '../data/synth/synthesize.ts';
import { CLASS_SETS, type ClassSetName } from '../data/synth/classes.ts';
import { progress } from '../util/progress.ts';
import { ResNet } from '../models/resnet.ts';
import { presetArch } from '../models/arch.ts';
import { timestampedDir } from './files.ts';
import { COMMON_DEFAULTS, type CommonTrainOptions } from './common.ts';
import { trainSupervised, type TrainSummary } from './supervised.ts';
import { trainDistill } from './distill.ts';
import { DEFAULT_DISTILL_LOSS } from './distill_loss.ts';
import { evaluateCheckpoint, type EvalResult } from './evaluate.ts';
import { openDataSource, type DataSource } from '../data/loader.ts';
import { writeStudyReport, type StudyResults, type StudyRow, type SweepPoint, type Arm } from './study_report.ts';
import { Adam } from '../engine/optim/adam.ts';
import { DataError } from '../data/errors.ts';

export interface StudyPreset {
  name: string;
  classes: ClassSetName;
  /** Tile side in pixels at the top magnification. */
  tile: number;
  /** Teacher magnification first, then the students'. */
  mags: string[];
  /** Tiles per class in train / val / test; unlabeled pool in total. */
  train: number;
  val: number;
  test: number;
  unlabeled: number;
  /** Epochs; with a time budget these are the most the plan may use. */
  teacherEpochs: number;
  studentEpochs: number;
  /**
   * Minutes of training and evaluation the plan must fit in, from the calibration on this
   * adapter (null: use the preset's epochs as they are). Fewer epochs are used when the
   * adapter is too slow for the maximum; the report states the epochs actually used.
   */
  budgetMinutes: number | null;
  batch: number;
  accum: number;
  lr: number;
  /** Extra unlabeled-pool sizes for the sweep at the lowest magnification (0 and the full pool come from the arms). */
  sweep: number[];
}

/**
 * Presets. default: sized to finish within 15 minutes on a 2-core CPU through lavapipe;
 * quick: a smoke run of about 3 minutes; full: the paper's scale (256 px tiles at 10x, 100
 * epochs, effective batch 32) for a real GPU. Under a budget most of the time goes to the
 * teacher: every student learns from it (the KD losses settle within 2-3 epochs), and on this
 * synthetic data a 64 px teacher needs tens of epochs to rise clearly above chance.
 */
export const STUDY_PRESETS: Record<string, StudyPreset> = {
  quick: { name: 'quick', classes: 'cd', tile: 32, mags: ['10x', '5x', '2.5x', '1.25x'], train: 12, val: 6, test: 12, unlabeled: 36, teacherEpochs: 12, studentEpochs: 3, budgetMinutes: 2, batch: 12, accum: 1, lr: 1e-3, sweep: [12] },
  default: { name: 'default', classes: 'cd', tile: 64, mags: ['10x', '5x', '2.5x', '1.25x'], train: 40, val: 12, test: 30, unlabeled: 120, teacherEpochs: 60, studentEpochs: 6, budgetMinutes: 11, batch: 16, accum: 1, lr: 1e-3, sweep: [40] },
  full: { name: 'full', classes: 'cd', tile: 256, mags: ['10x', '5x', '2.5x', '1.25x', '0.625x'], train: 500, val: 100, test: 200, unlabeled: 3000, teacherEpochs: 100, studentEpochs: 100, budgetMinutes: null, batch: 16, accum: 2, lr: 1e-3, sweep: [500, 1000, 2000] },
};

export interface StudyOptions {
  preset: StudyPreset;
  /** Data folder; default runs/data/<preset>-<classes>-t<tile>-s<seed>. */
  data: string | null;
  /** Parent of the timestamped run folder. */
  runsRoot: string;
  seed: number;
  verbose: boolean;
  /** Skip unreadable images (each named once in a warning) instead of stopping. */
  skipBad?: boolean;
}

/** Seconds per image of one training step and of a forward pass, at one input size. */
export interface Calibration { size: number; trainSecondsPerImage: number; inferSecondsPerImage: number; imagesPerSecond: number }

/** Time `reps` training steps and forward passes of the study's network on random images of one size. */
export async function calibrate(classes: number, size: number, batch: number, reps = 2): Promise<Calibration> {
  const model = new ResNet(presetArch('rbd', { numClasses: classes }), 0);
  const opt = new Adam(model.parameters(), { lr: 1e-4 });
  const rng = new Rng(size);
  const x = Tensor.from(rng.array(batch * 3 * size * size, () => rng.normal()), [batch, 3, size, size]);
  const labels = Array.from({ length: batch }, (_, i) => i % classes);
  const step = async () => {
    const loss = tidy(() => crossEntropy(model.forward(x).logits, labels));
    await loss.item();
    backward(loss);
    loss.dispose();
    opt.step();
    opt.zeroGrad();
    await runtime().sync();
  };
  const forward = async () => {
    const logits = noGrad(() => model.forward(x).logits);
    await logits.read();
    logits.dispose();
  };
  try {
    await step(); // warm-up: pipeline compilation, buffer pool
    await forward();
    let t = performance.now();
    for (let r = 0; r < reps; r++) await step();
    const train = (performance.now() - t) / 1000 / (reps * batch);
    t = performance.now();
    for (let r = 0; r < reps; r++) await forward();
    const infer = (performance.now() - t) / 1000 / (reps * batch);
    return { size, trainSecondsPerImage: train, inferSecondsPerImage: infer, imagesPerSecond: 1 / infer };
  } finally {
    x.dispose();
    model.dispose();
    opt.dispose();
  }
}

/** Seconds of the teacher's training, validation and test evaluation, from the calibration. */
export function teacherSeconds(p: StudyPreset, classes: number, cal: Map<string, Calibration>, epochs: number): number {
  const c = cal.get(p.mags[0])!;
  return epochs * p.train * classes * c.trainSecondsPerImage + (epochs * p.val + p.test) * classes * c.inferSecondsPerImage;
}

/** Seconds of every student run (baseline, KD, KD+unlabeled per magnification, the sweep), from the calibration. */
export function studentSeconds(p: StudyPreset, classes: number, cal: Map<string, Calibration>, epochs: number): number {
  const teacher = cal.get(p.mags[0])!;
  const nTrain = p.train * classes;
  const evalCost = (c: Calibration) => (epochs * p.val + p.test) * classes * c.inferSecondsPerImage;
  const lowest = p.mags[p.mags.length - 1];
  let total = 0;
  for (const mag of p.mags.slice(1)) {
    const c = cal.get(mag)!;
    // KD: a student training step plus a teacher forward per image.
    const kd = (images: number) => epochs * images * (c.trainSecondsPerImage + teacher.inferSecondsPerImage) + evalCost(c);
    total += epochs * nTrain * c.trainSecondsPerImage + evalCost(c);
    total += kd(nTrain) + kd(nTrain + p.unlabeled);
    if (mag === lowest) for (const u of p.sweep) total += kd(nTrain + u);
  }
  return total;
}

/** Seconds the study's training and evaluation should take, from the calibration. */
export function expectedSeconds(p: StudyPreset, classes: number, cal: Map<string, Calibration>): number {
  return teacherSeconds(p, classes, cal, p.teacherEpochs) + studentSeconds(p, classes, cal, p.studentEpochs);
}

/**
 * Real runs over calibrated bare steps: runs also decode and augment images, validate and write
 * checkpoints every epoch. Measured at about 1.4 on the quick preset; the teacher's measured
 * time replaces this guess for the students (replanStudents).
 */
export const RUN_OVERHEAD = 1.5;

/** Student epochs a budgeted plan keeps for every student (the distillation losses settle within 2-3 epochs). */
export const MIN_STUDENT_EPOCHS = 3;

export interface EpochPlan { teacherEpochs: number; studentEpochs: number; expectedSeconds: number; fitsBudget: boolean }

/**
 * The epochs to run: the preset's, or with a budget the most that fit it (bare-step estimate
 * times RUN_OVERHEAD), keeping about the teacher/student ratio of the preset but at least
 * MIN_STUDENT_EPOCHS per student, down to 2 teacher epochs; if even that does not fit, 2 and 1.
 */
export function planEpochs(p: StudyPreset, classes: number, cal: Map<string, Calibration>): EpochPlan {
  const cost = (teacherEpochs: number, studentEpochs: number) => RUN_OVERHEAD * expectedSeconds({ ...p, teacherEpochs, studentEpochs }, classes, cal);
  if (p.budgetMinutes === null) return { teacherEpochs: p.teacherEpochs, studentEpochs: p.studentEpochs, expectedSeconds: cost(p.teacherEpochs, p.studentEpochs), fitsBudget: true };
  // Step the teacher down one epoch at a time (its schedule matters most: students learn from
  // it), the students following at the preset's ratio.
  const ratio = p.teacherEpochs / p.studentEpochs;
  for (let teacherEpochs = p.teacherEpochs; teacherEpochs >= 2; teacherEpochs--) {
    const studentEpochs = Math.max(Math.min(MIN_STUDENT_EPOCHS, p.studentEpochs), Math.round(teacherEpochs / ratio));
    const seconds = cost(teacherEpochs, studentEpochs);
    if (seconds <= p.budgetMinutes * 60) return { teacherEpochs, studentEpochs, expectedSeconds: seconds, fitsBudget: true };
  }
  return { teacherEpochs: 2, studentEpochs: 1, expectedSeconds: cost(2, 1), fitsBudget: false };
}

/**
 * After the teacher: the calibration times bare steps, while a run also loads and augments
 * images, validates and writes checkpoints, and the machine may be busier or quieter than when
 * it was timed. The teacher's real time against its prediction gives that slowdown; the student
 * epochs are then the most (up to the preset's maximum) that fit what is left of the budget.
 */
export function replanStudents(p: StudyPreset, classes: number, cal: Map<string, Calibration>, plan: EpochPlan, slowdown: number, secondsLeft: number): number {
  if (p.budgetMinutes === null) return plan.studentEpochs;
  for (let epochs = p.studentEpochs; epochs > 1; epochs--) {
    if (slowdown * studentSeconds(p, classes, cal, epochs) <= secondsLeft) return epochs;
  }
  return 1;
}

/**
 * With a budget, the teacher trains past its planned epochs (up to the preset's maximum) while
 * one more epoch, at its measured pace, still leaves the students their planned epochs at the
 * measured slowdown. Without a budget it runs the preset's epochs.
 */
export function teacherMayContinue(p: StudyPreset, classes: number, cal: Map<string, Calibration>, plan: EpochPlan, epochsDone: number, elapsed: number): boolean {
  if (epochsDone >= p.teacherEpochs) return false;
  if (p.budgetMinutes === null) return true;
  if (epochsDone < plan.teacherEpochs) return true;
  const slowdown = elapsed / teacherSeconds(p, classes, cal, epochsDone);
  const nextEpoch = elapsed / epochsDone;
  return elapsed + nextEpoch + slowdown * studentSeconds(p, classes, cal, plan.studentEpochs) <= p.budgetMinutes * 60;
}

/**
 * The data folder for a preset; generated (with a progress bar) when it has no manifest yet. A
 * folder the user named (`given`) that holds anything is a data set of its own (real data need no
 * manifest): it is read, never written to.
 */
async function ensureData(p: StudyPreset, dir: string, seed: number, verbose: boolean, given: boolean): Promise<boolean> {
  if (existsSync(join(dir, 'manifest.json'))) return false;
  if (given && existsSync(dir) && readdirSync(dir).length > 0) return false;
  const total = (p.train + p.val + p.test) * CLASS_SETS[p.classes].length + p.unlabeled;
  const bar = verbose ? progress({ label: 'synth', total, unit: 'tiles' }) : null;
  await synthesize({ out: dir, seed, train: p.train, val: p.val, test: p.test, unlabeled: p.unlabeled, tile: p.tile, mags: p.mags, classes: p.classes, overwrite: false, onProgress: (done) => bar?.update(done) });
  bar?.done();
  return true;
}

export async function runStudy(o: StudyOptions): Promise<{ dir: string; results: StudyResults }> {
  const p = o.preset;
  const startedAt = new Date();
  const dataDir = o.data ?? join(o.runsRoot, 'data', `${p.name}-${p.classes}-t${p.tile}-s${o.seed}`);
  const say = (line: string) => {
    if (o.verbose) console.log(line);
  };
  say(`rbd study (${p.name} preset): data ${dataDir}, teacher ${p.mags[0]}, students ${p.mags.slice(1).join(', ')}`);
  say(p.budgetMinutes !== null
    ? `expected duration: about ${p.budgetMinutes} min of training and evaluation (the preset's budget), plus data generation on the first run and about a minute of calibration; the exact plan follows the calibration`
    : `expected duration: set by the calibration below (preset ${p.name} has no time budget: ${p.teacherEpochs}/${p.studentEpochs} epochs)`);
  const generated = await ensureData(p, dataDir, o.seed, o.verbose, o.data != null);
  const data: DataSource = await openDataSource(dataDir, { skipBad: o.skipBad });
  for (const m of p.mags) {
    try {
      data.level(m);
    } catch (e) {
      throw new DataError(`rbd study (${p.name} preset) needs the magnifications ${p.mags.join(', ')} (each lower one at most derived from ${p.mags[0]} by a whole-number factor), in the layout DIR/<mag>/{train,val,test}/<class>/*.png: ${(e as Error).message}`);
    }
  }
  const classes = data.classes.length;
  const dir = timestampedDir(o.runsRoot);

  // Calibration: expected duration and measured throughput per magnification.
  const cal = new Map<string, Calibration>();
  for (const mag of p.mags) cal.set(mag, await calibrate(classes, data.level(mag).tile, p.batch));
  const plan = planEpochs(p, classes, cal);
  const expected = plan.expectedSeconds;
  const rates = p.mags.map((m) => `${m} ${data.level(m).tile}px ${(1 / cal.get(m)!.trainSecondsPerImage).toFixed(1)} train img/s`).join(', ');
  say(p.budgetMinutes !== null
    ? `plan: teacher ${plan.teacherEpochs} epochs (more, up to ${p.teacherEpochs}, while its measured pace leaves time), students ${plan.studentEpochs} (re-planned after the teacher, up to ${p.studentEpochs}): what fits the ${p.budgetMinutes} min budget`
    : `plan: teacher ${plan.teacherEpochs} epochs, students ${plan.studentEpochs} epochs`);
  say(`expected duration: about ${(expected / 60).toFixed(1)} min of training and evaluation, from timed steps on ${runtime().gpu.adapter.name} (${rates}); results in ${dir}`);
  if (!plan.fitsBudget) say(`warning: this adapter is too slow for the ${p.budgetMinutes} min budget even at the minimum epochs; expect about ${(expected / 60).toFixed(1)} min`);

  const common = (out: string, epochs: number): CommonTrainOptions => ({
    ...COMMON_DEFAULTS, data: dataDir, out, epochs, batch: p.batch, accum: p.accum, lr: p.lr, seed: o.seed, verbose: o.verbose, skipBad: o.skipBad ?? false,
  });
  const evalTest = (s: TrainSummary) => evaluateCheckpoint({ checkpoint: s.checkpoint, data: dataDir, splits: ['test'], mag: s.mag, batch: p.batch, resamples: 1000, seed: o.seed, out: s.dir, allowUpsampled: false, skipBad: o.skipBad ?? false }, data);

  const rows: StudyRow[] = [];
  let teacherGflops = 0;
  const addRow = (arm: Arm, s: TrainSummary, e: EvalResult) => {
    const t = e.splits.test;
    if (arm === 'teacher') teacherGflops = s.resolution.forwardGflops;
    rows.push({
      mag: data.level(s.mag).value, arm, forwardGflops: s.resolution.forwardGflops, costRelativeToTeacher: s.resolution.forwardGflops / teacherGflops,
      imagesPerSecond: cal.get(s.mag)!.imagesPerSecond, inputSize: s.resolution.inputSize, micronsPerPixel: s.resolution.micronsPerPixel,
      testAccuracy: t.accuracy, testAccuracyCI: t.accuracyCI, testMacroAuc: t.macroAuc, testMacroAucCI: t.macroAucCI, testLoss: t.loss,
      unlabeledCount: s.unlabeledCount, trainImages: s.trainImages, epochs: s.epochs, trainSeconds: s.seconds, confusion: t.confusion, runDir: s.dir,
    });
    say(`  -> ${arm} ${s.mag}: test accuracy ${(100 * t.accuracy).toFixed(1)}% [${(100 * t.accuracyCI[0]).toFixed(1)}, ${(100 * t.accuracyCI[1]).toFixed(1)}], macro AUC ${t.macroAuc.toFixed(3)}`);
  };

  const teacherMag = p.mags[0];
  const trainingStarted = performance.now();
  const teacher = await trainSupervised({
    ...common(join(dir, `teacher-${teacherMag}`), p.teacherEpochs), role: 'teacher', mag: teacherMag, allowUpsampled: false,
    keepGoing: (r) => teacherMayContinue(p, classes, cal, plan, r.epoch + 1, (performance.now() - trainingStarted) / 1000),
  }, data);
  addRow('teacher', teacher, await evalTest(teacher));
  const teacherActual = (performance.now() - trainingStarted) / 1000;
  const slowdown = teacherActual / teacherSeconds(p, classes, cal, teacher.epochs);
  const budgetLeft = p.budgetMinutes === null ? Infinity : p.budgetMinutes * 60 - teacherActual;
  const studentEpochs = replanStudents(p, classes, cal, plan, slowdown, budgetLeft);
  say(`teacher: ${teacher.epochs} epochs in ${teacherActual.toFixed(0)} s, ${slowdown.toFixed(2)}x the calibrated estimate; students: ${studentEpochs} epoch(s)${studentEpochs !== plan.studentEpochs ? ` (re-planned from ${plan.studentEpochs} for the budget left)` : ''}, expected about ${((slowdown * studentSeconds(p, classes, cal, studentEpochs)) / 60).toFixed(1)} min more`);

  const sweep: SweepPoint[] = [];
  const lowest = p.mags[p.mags.length - 1];
  const pool = data.samples('unlabeled').length;
  const distill = async (mag: string, unlabeled: number, name: string) => {
    const s = await trainDistill({ ...common(join(dir, name), studentEpochs), ...DEFAULT_DISTILL_LOSS, teacher: teacher.checkpoint, mag, unlabeled, cacheTeacher: false, allowUpsampled: false }, data);
    return { s, e: await evalTest(s) };
  };
  const sweepPoint = (mag: string, s: TrainSummary, e: EvalResult) =>
    sweep.push({ mag: data.level(mag).value, unlabeledCount: s.unlabeledCount, testAccuracy: e.splits.test.accuracy, testAccuracyCI: e.splits.test.accuracyCI, testMacroAuc: e.splits.test.macroAuc, runDir: s.dir });
  for (const mag of p.mags.slice(1)) {
    const base = await trainSupervised({ ...common(join(dir, `baseline-${mag}`), studentEpochs), role: 'baseline', mag, allowUpsampled: false }, data);
    addRow('baseline', base, await evalTest(base));
    const kd = await distill(mag, 0, `kd-${mag}`);
    addRow('kd', kd.s, kd.e);
    const kdu = await distill(mag, pool, `kd+unlabeled-${mag}`);
    addRow('kd+unlabeled', kdu.s, kdu.e);
    if (mag === lowest) {
      sweepPoint(mag, kd.s, kd.e);
      for (const u of p.sweep.filter((u) => u > 0 && u < pool)) {
        const r = await distill(mag, u, `sweep-${mag}-u${u}`);
        sweepPoint(mag, r.s, r.e);
      }
      sweepPoint(mag, kdu.s, kdu.e);
    }
  }

  const finishedAt = new Date();
  const results: StudyResults = {
    preset: p.name, startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    expectedSeconds: expected, adapter: runtime().gpu.adapter.name, classes: data.classes, teacherMag: data.level(teacherMag).value,
    studentMags: p.mags.slice(1).map((m) => data.level(m).value),
    data: { dir: dataDir, train: data.samples('train').length, val: data.samples('val').length, test: data.samples('test').length, unlabeled: pool, tileMicrons: data.topLevel().tile * data.topLevel().micronsPerPixel, generated },
    config: { ...p, teacherEpochsUsed: teacher.epochs, studentEpochsUsed: studentEpochs, calibrationSlowdown: slowdown, seed: o.seed, loss: DEFAULT_DISTILL_LOSS, weightDecay: COMMON_DEFAULTS.weightDecay, gamma: COMMON_DEFAULTS.gamma, augment: true },
    rows, sweep, notes: studyNotes(p, { ...plan, teacherEpochs: teacher.epochs, studentEpochs }, cal),
  };
  writeStudyReport(dir, results);
  return { dir, results };
}

function studyNotes(p: StudyPreset, plan: EpochPlan, cal: Map<string, Calibration>): string[] {
  return [
    `Batching: the method feeds one image at a time and accumulates gradients over 32. Here tiles of one magnification share a size, so ${p.batch} go through together and ${p.accum} micro-batch(es) make one Adam step (effective batch ${p.batch * p.accum}); with GroupNorm a sample's activations do not depend on its batch-mates, so this matches one-at-a-time accumulation up to rounding.`,
    `Optimizer: Adam, lr ${p.lr}, weight decay ${COMMON_DEFAULTS.weightDecay} added to the gradient (PyTorch Adam semantics), exponential decay gamma ${COMMON_DEFAULTS.gamma}; teacher ${plan.teacherEpochs} epochs, students ${plan.studentEpochs} epochs${p.budgetMinutes !== null ? `: what fit the preset's ${p.budgetMinutes} min budget on this adapter (preset maximum ${p.teacherEpochs}/${p.studentEpochs}), planned from timed steps before training, the teacher extended while time allowed and the students re-planned from the teacher's measured pace` : ''}. The paper trains 100 epochs (preset full).`,
    `Distillation loss: soft KL (T = ${DEFAULT_DISTILL_LOSS.temperature}, batchmean, times T^2) + L2 pixel loss between the student's stage-4 map and the teacher's map resized by the average of adaptive max pooling and bicubic interpolation (the official code's branch logic applies only the max-pool half and halves it; we implement the intended average). No label term.`,
    'Labels: baseline and teacher train on labels; KD arms never see training labels. Every arm keeps the epoch with the best validation accuracy (validation labels are used for that choice only), and is evaluated once on the test split.',
    'Augmentation: random flips, 90-degree rotations and colour jitter (0.5/0.5/0.5/0.2), the same transform on the teacher and student views of a tile. The teacher-output cache was not used (augmented runs).',
    `Honest resolution: each student received its magnification's native tile (${p.mags.map((m) => `${m}: ${cal.get(m)!.size} px`).join(', ')}), never an upsampled one; FLOPs are counted from the layer shapes at those sizes (models/flops.ts).`,
    `Speed: images/s are forward passes (batch ${p.batch}) timed on this adapter before training; at small tiles fixed per-dispatch costs dominate, so speed grows far less than the FLOP count falls.`,
    'Data: synthetic H&E-like tiles whose classes differ in tissue architecture (visible at low magnification) and nuclear detail (visible only at high magnification); lower magnifications are exact area downsamples of the rendered tile. Results on this data say whether the pipeline behaves as the method predicts, not how it does on real slides.',
    'Confidence intervals: 1000 seeded bootstrap resamples of the test images (percentile method). With test sets of this size, differences of a few points are within noise.',
  ];
}
