/**
 * The study's presets and its time plan: what each arm costs at the calibrated pace of this
 * adapter, and how many epochs fit the wall-clock budget.
 *
 * The budget is the whole study's wall clock (data generation, calibration, training,
 * evaluation, report). When the plan is made, data and calibration are done and their time is
 * known; the rest is shared between the teacher and the students. The students get the most
 * epochs (up to the preset's maximum) that fit STUDENT_SHARE of what is left; the teacher gets
 * the rest. While the teacher trains it may go past its planned epochs if its measured pace
 * leaves the students their time; after it, the students are re-planned from the teacher's
 * measured slowdown over the calibration (decoding, augmentation, validation, checkpoints and
 * the machine's load are in that ratio).
 */
import type { ClassSetName } from '../data/synth/classes.ts';

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
  /** Most epochs (with a budget); without one, the epochs run. */
  teacherEpochs: number;
  studentEpochs: number;
  /** Minutes of wall clock for the whole study, data generation included (null: run the preset's epochs). */
  budgetMinutes: number | null;
  batch: number;
  accum: number;
  lr: number;
  /** Epochs over which the learning rate ramps up linearly, step by step, from lr / 10 to lr (0: none). */
  warmupEpochs: number;
  /** Unlabeled-pool sizes for the sweep at the lowest magnification besides 0 (the kd arm) and the full pool (kd+unlabeled). */
  sweep: number[];
}

/**
 * Presets.
 * - default: 128 px tiles at 10x (128 microns, about one villus or a few crypts), students at
 *   5x, 2.5x, 1.25x (16 px: 41.9x fewer forward FLOPs than the teacher, models/flops.ts); 315
 *   test tiles (a 95% interval of about +-4 points at 85%); a pool of 4x the labelled set;
 *   epochs planned to fill a 14 min budget (one minute of margin under 15) on this adapter.
 * - quick: a smoke run of the whole pipeline within about 3 minutes (the numbers mean little).
 * - full: the paper's scale (256 px tiles at 10x, 100 epochs, effective batch 32) for a real GPU.
 */
export const STUDY_PRESETS: Record<string, StudyPreset> = {
  quick: {
    name: 'quick',
    classes: 'cd',
    tile: 32,
    mags: ['10x', '5x', '2.5x', '1.25x'],
    train: 12,
    val: 6,
    test: 12,
    unlabeled: 144,
    teacherEpochs: 12,
    studentEpochs: 2,
    budgetMinutes: 2.5,
    batch: 12,
    accum: 1,
    lr: 1e-3,
    warmupEpochs: 1,
    sweep: [36, 72],
  },
  default: {
    name: 'default',
    classes: 'cd',
    tile: 128,
    mags: ['10x', '5x', '2.5x', '1.25x'],
    train: 80,
    val: 30,
    test: 105,
    unlabeled: 960,
    teacherEpochs: 60,
    studentEpochs: 4,
    budgetMinutes: 14,
    batch: 16,
    accum: 1,
    lr: 1e-3,
    warmupEpochs: 1,
    sweep: [240, 480],
  },
  full: {
    name: 'full',
    classes: 'cd',
    tile: 256,
    mags: ['10x', '5x', '2.5x', '1.25x', '0.625x'],
    train: 500,
    val: 100,
    test: 200,
    unlabeled: 6000,
    teacherEpochs: 100,
    studentEpochs: 100,
    budgetMinutes: null,
    batch: 16,
    accum: 2,
    lr: 1e-3,
    warmupEpochs: 0,
    sweep: [1500, 3000],
  },
};

/** Seconds per image of one training step and of a forward pass, at one input size. */
export interface Calibration {
  size: number;
  trainSecondsPerImage: number;
  inferSecondsPerImage: number;
  imagesPerSecond: number;
}

/**
 * ceiling: whether the data set has the pool's true labels (synthetic data: yes), so the ceiling
 * arm runs. cachedTargets: whether distillation reads the teacher's outputs from the shared
 * teacher-target cache (train/teacher_cache.ts) instead of running the teacher per batch.
 */
export interface PlanOptions {
  ceiling: boolean;
  cachedTargets?: boolean;
  augmentSet?: number;
}

/** Seconds of the teacher's training (epochs), its validation and its test evaluation, at the calibrated pace. */
export function teacherSeconds(p: StudyPreset, classes: number, cal: Map<string, Calibration>, epochs: number): number {
  const c = cal.get(p.mags[0])!;
  return epochs * p.train * classes * c.trainSecondsPerImage + (epochs * p.val + p.test) * classes * c.inferSecondsPerImage;
}

/** The student runs of the study, each with the images it trains on per epoch. */
export function studentRuns(
  p: StudyPreset,
  classes: number,
  o: PlanOptions,
): { mag: string; arm: string; images: number; distill: boolean }[] {
  const n = p.train * classes;
  const lowest = p.mags[p.mags.length - 1];
  const runs: { mag: string; arm: string; images: number; distill: boolean }[] = [];
  for (const mag of p.mags.slice(1)) {
    runs.push({ mag, arm: 'baseline', images: n, distill: false });
    runs.push({ mag, arm: 'kd', images: n, distill: true });
    runs.push({ mag, arm: 'kd+unlabeled', images: n + p.unlabeled, distill: true });
    if (o.ceiling) runs.push({ mag, arm: 'ceiling', images: n + p.unlabeled, distill: false });
    if (mag === lowest) for (const u of sweepSizes(p)) runs.push({ mag, arm: `sweep-u${u}`, images: n + u, distill: true });
  }
  return runs;
}

/** The extra sweep sizes actually run: strictly between 0 and the pool, each once, ascending. */
export function sweepSizes(p: StudyPreset): number[] {
  return [...new Set(p.sweep.filter((u) => u > 0 && u < p.unlabeled))].sort((a, b) => a - b);
}

/**
 * Seconds of one student run: its epochs of training, validation and test evaluation. Without
 * the teacher-target cache a KD step also runs the teacher forward on each image.
 */
export function runSeconds(
  p: StudyPreset,
  classes: number,
  cal: Map<string, Calibration>,
  run: { mag: string; images: number; distill: boolean },
  epochs: number,
  o: PlanOptions = { ceiling: false },
): number {
  const c = cal.get(run.mag)!;
  const teacher = cal.get(p.mags[0])!;
  const perImage = c.trainSecondsPerImage + (run.distill && !o.cachedTargets ? teacher.inferSecondsPerImage : 0);
  return epochs * run.images * perImage + (epochs * p.val + p.test) * classes * c.inferSecondsPerImage;
}

/**
 * Seconds of teacher forward passes that fill the teacher-target cache (0 without it). Every
 * tile draws one id of the augmentation table (augmentSet entries) per epoch, the same in every
 * arm and magnification where it has the same index in the arm's sample list (the labelled set
 * and the full pool); a tile seen in E epochs has 16 (1 - (15/16)^E) distinct ids on average
 * for a 16-entry table. The sweep's subsets index the pool differently, so their tiles are
 * counted again (an upper bound).
 */
export function targetSeconds(p: StudyPreset, classes: number, cal: Map<string, Calibration>, epochs: number, o: PlanOptions): number {
  if (!o.cachedTargets) return 0;
  const k = o.augmentSet ?? 16;
  const distinct = k * (1 - Math.pow(1 - 1 / k, epochs));
  const tiles = p.train * classes + p.unlabeled + sweepSizes(p).reduce((a, b) => a + b, 0);
  return tiles * distinct * cal.get(p.mags[0])!.inferSecondsPerImage;
}

/** Seconds of every student run and of filling the teacher-target cache, at the calibrated pace. */
export function studentSeconds(p: StudyPreset, classes: number, cal: Map<string, Calibration>, epochs: number, o: PlanOptions): number {
  return (
    studentRuns(p, classes, o).reduce((s, r) => s + runSeconds(p, classes, cal, r, epochs, o), 0) +
    targetSeconds(p, classes, cal, epochs, o)
  );
}

/**
 * Real runs over calibrated bare steps before any run has been measured: runs also decode and
 * augment images, validate and write checkpoints. The teacher's measured ratio replaces this
 * guess for the students (replanStudents).
 */
export const RUN_OVERHEAD = 1.3;

/**
 * Share of the time left after data and calibration that the plan gives the students (the
 * teacher, which every student learns from, gets the rest). More than half: the default
 * preset's teacher reaches its validation plateau well before its share runs out, while one
 * epoch of all the student runs costs as much as many teacher epochs; at half, a slower machine
 * left every student one epoch and the ceiling arm bounded nothing (figures in the commit).
 */
export const STUDENT_SHARE = 0.65;

/** Teacher epochs kept even when the machine turns out slower than planned (a teacher of 1 epoch teaches little). */
export const MIN_TEACHER_EPOCHS = 2;

/** Seconds kept for writing the report and plots. */
export const REPORT_SECONDS = 5;

export interface EpochPlan {
  teacherEpochs: number;
  studentEpochs: number;
  /** Expected wall clock of the whole study, from its start (data and calibration included). */
  expectedSeconds: number;
  fitsBudget: boolean;
}

/**
 * The epochs to run, given the seconds already spent (data, calibration). Without a budget:
 * the preset's epochs. With one: the students' epochs are the most (up to the preset's
 * maximum, at least 1) whose estimated time fits STUDENT_SHARE of what is left; the teacher
 * gets as many epochs (at least 1, at most the preset's) as fit the remainder.
 */
export function planEpochs(
  p: StudyPreset,
  classes: number,
  cal: Map<string, Calibration>,
  o: PlanOptions,
  spentSeconds: number,
): EpochPlan {
  const teacher = (e: number) => RUN_OVERHEAD * teacherSeconds(p, classes, cal, e);
  const students = (e: number) => RUN_OVERHEAD * studentSeconds(p, classes, cal, e, o);
  const total = (t: number, s: number) => spentSeconds + teacher(t) + students(s) + REPORT_SECONDS;
  if (p.budgetMinutes === null)
    return {
      teacherEpochs: p.teacherEpochs,
      studentEpochs: p.studentEpochs,
      expectedSeconds: total(p.teacherEpochs, p.studentEpochs),
      fitsBudget: true,
    };
  const left = p.budgetMinutes * 60 - spentSeconds - REPORT_SECONDS;
  let studentEpochs = 1;
  for (let e = p.studentEpochs; e >= 1; e--) {
    if (students(e) <= STUDENT_SHARE * left) {
      studentEpochs = e;
      break;
    }
  }
  const perTeacherEpoch = teacher(2) - teacher(1);
  const fixed = teacher(0);
  const teacherEpochs = Math.max(1, Math.min(p.teacherEpochs, Math.floor((left - students(studentEpochs) - fixed) / perTeacherEpoch)));
  const expected = total(teacherEpochs, studentEpochs);
  return { teacherEpochs, studentEpochs, expectedSeconds: expected, fitsBudget: expected <= p.budgetMinutes * 60 };
}

/**
 * After the teacher (elapsed: seconds since the study started): the student epochs are the
 * most (up to the preset's maximum) that fit what is left of the budget at the teacher's
 * measured slowdown over the calibration; at least 1.
 */
export function replanStudents(
  p: StudyPreset,
  classes: number,
  cal: Map<string, Calibration>,
  o: PlanOptions,
  plan: EpochPlan,
  slowdown: number,
  elapsed: number,
): number {
  if (p.budgetMinutes === null) return plan.studentEpochs;
  const left = p.budgetMinutes * 60 - elapsed - REPORT_SECONDS;
  for (let e = p.studentEpochs; e > 1; e--) if (studentSlowdown(slowdown) * studentSeconds(p, classes, cal, e, o) <= left) return e;
  return 1;
}

/**
 * The slowdown assumed for the students from the teacher's measured one. A teacher faster than
 * calibrated usually means the machine was busier while calibrating than later (a shared
 * machine), which says little about the students' many small runs: the students are never
 * assumed faster than STUDENT_RUN_OVERHEAD times their calibration. (A default study on the shared machine measured a teacher
 * slowdown of 0.52 and then ran its students 1.4x over the estimate that assumed 0.52.)
 */
export function studentSlowdown(teacherSlowdown: number): number {
  return Math.max(STUDENT_RUN_OVERHEAD, teacherSlowdown);
}

/**
 * Real student runs over their calibrated bare steps, at least: small images make the per-batch
 * work (decoding, augmentation, validation, checkpoints) and filling the teacher-target cache
 * (writes, stage-4 read-back) weigh more than for the teacher. Two default studies measured
 * students plus targets at 1.15x and 1.25x their calibrated estimate, with teacher slowdowns of
 * 1.12 and 0.95.
 */
export const STUDENT_RUN_OVERHEAD = 1.25;

/**
 * With a budget the teacher trains, up to the preset's maximum, while one more epoch at its
 * measured pace still leaves the students their planned epochs (studentSlowdown): past its
 * planned epochs when the machine is faster than calibrated, and short of them when it got
 * slower (a shared machine), but never fewer than min(planned, 2). `elapsed`: seconds since the
 * study started; `teacherElapsed`: of that, the teacher's training so far. Without a budget it
 * runs the preset's epochs.
 */
export function teacherMayContinue(
  p: StudyPreset,
  classes: number,
  cal: Map<string, Calibration>,
  o: PlanOptions,
  plan: EpochPlan,
  epochsDone: number,
  teacherElapsed: number,
  elapsed: number,
): boolean {
  if (epochsDone >= p.teacherEpochs) return false;
  if (p.budgetMinutes === null) return true;
  if (epochsDone < Math.min(plan.teacherEpochs, MIN_TEACHER_EPOCHS)) return true;
  const testSeconds = p.test * classes * cal.get(p.mags[0])!.inferSecondsPerImage;
  const slowdown = teacherElapsed / (teacherSeconds(p, classes, cal, epochsDone) - testSeconds);
  const nextEpoch = teacherElapsed / epochsDone;
  // After its last epoch the teacher is still evaluated on the test split; replanStudents then
  // sees the same slowdown, so the students keep their planned epochs.
  return (
    elapsed +
      nextEpoch +
      slowdown * testSeconds +
      studentSlowdown(slowdown) * studentSeconds(p, classes, cal, plan.studentEpochs, o) +
      REPORT_SECONDS <=
    p.budgetMinutes * 60
  );
}
