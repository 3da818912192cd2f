/** The study's time plan (arithmetic worked out by hand; no wall clock) and the presets' promises. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  planEpochs,
  replanStudents,
  teacherMayContinue,
  studentSlowdown,
  teacherSeconds,
  studentSeconds,
  targetSeconds,
  studentRuns,
  sweepSizes,
  RUN_OVERHEAD,
  REPORT_SECONDS,
  STUDENT_SHARE,
  STUDY_PRESETS,
  type StudyPreset,
  type Calibration,
} from '../../train/study_plan.ts';
import { learningRate } from '../../train/schedule.ts';
import { countFlops } from '../../models/flops.ts';
import { presetArch } from '../../models/arch.ts';
import { CLASS_SETS } from '../../data/synth/classes.ts';

const preset: StudyPreset = {
  name: 't',
  classes: 'cd',
  tile: 32,
  mags: ['10x', '5x'],
  train: 10,
  val: 5,
  test: 5,
  unlabeled: 30,
  teacherEpochs: 60,
  studentEpochs: 4,
  budgetMinutes: null,
  batch: 8,
  accum: 1,
  lr: 1e-3,
  warmupEpochs: 0,
  sweep: [],
};
const cal = new Map<string, Calibration>([
  ['10x', { size: 32, trainSecondsPerImage: 0.1, inferSecondsPerImage: 0.02, imagesPerSecond: 50 }],
  ['5x', { size: 16, trainSecondsPerImage: 0.05, inferSecondsPerImage: 0.01, imagesPerSecond: 100 }],
]);
const withCeiling = { ceiling: true };
const near = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('teacher and student seconds of a 2-class, 2-magnification study, by hand', () => {
  // 20 train, 10 val, 10 test images. Teacher, e epochs: e x 20 x 0.1 + (10e + 10) x 0.02 = 2.2e + 0.2.
  near(teacherSeconds(preset, 2, cal, 3), 6.8);
  // Students at 5x, e epochs; evaluation (10e + 10) x 0.01 = 0.1e + 0.1 each:
  //   baseline 20 x 0.05 = 1e; kd 20 x (0.05 + 0.02 teacher) = 1.4e; kd+unlabeled 50 x 0.07 = 3.5e;
  //   ceiling (labels, no teacher) 50 x 0.05 = 2.5e.   Sum 8.4e + 0.4e + 0.4 = 8.8e + 0.4.
  near(studentSeconds(preset, 2, cal, 2, withCeiling), 18);
  // Without the ceiling: 18 - (2.6 x 2 + 0.1) = 12.7.
  near(studentSeconds(preset, 2, cal, 2, { ceiling: false }), 12.7);
  assert.equal(
    studentRuns(preset, 2, withCeiling).map((r) => [r.arm, r.images, r.distill]),
    [
      ['baseline', 20, false],
      ['kd', 20, true],
      ['kd+unlabeled', 50, true],
      ['ceiling', 50, false],
    ],
  );
});

test('with the teacher-target cache, KD steps no longer run the teacher; the cache costs one teacher pass per distinct (tile, id)', () => {
  const cached = { ceiling: true, cachedTargets: true, augmentSet: 16 };
  // Per epoch the KD arms lose 20 x 0.02 (kd) + 50 x 0.02 (kd+unlabeled) = 1.4 s of teacher passes.
  // Targets: 50 tiles (20 labelled + 30 pool, no sweep) x 16 (1 - (15/16)^2) = 50 x 1.9375 ids x 0.02 = 1.9375 s.
  near(targetSeconds(preset, 2, cal, 2, cached), 1.9375);
  near(studentSeconds(preset, 2, cal, 2, cached), 18 - 2 * 1.4 + 1.9375);
  // A sweep subset of 10 adds 10 tiles (its pool tiles get other ids), and one more run.
  near(targetSeconds({ ...preset, sweep: [10] }, 2, cal, 1, cached), 60 * 1 * 0.02);
});

test('planEpochs without a budget keeps the preset epochs', () => {
  const plan = planEpochs({ ...preset, teacherEpochs: 3, studentEpochs: 2 }, 2, cal, withCeiling, 10);
  near(plan.expectedSeconds, 10 + RUN_OVERHEAD * (6.8 + 18) + REPORT_SECONDS);
  assert.equal([plan.teacherEpochs, plan.studentEpochs, plan.fitsBudget], [3, 2, true]);
});

test('planEpochs fills a 2 min budget: by hand, and no teacher epoch more would fit', () => {
  // Spent 10 s; left = 120 - 10 - 5 = 105. Students: 1.3 x (8.8e + 0.4) <= 0.5 x 105 = 52.5 holds
  // up to e = 4 (46.28). Teacher: (105 - 46.28 - 1.3 x 0.2) / (1.3 x 2.2) = 20.4 -> 20 epochs.
  // Expected: 10 + 1.3 x (2.2 x 20 + 0.2) + 46.28 + 5 = 118.74 s.
  const p = { ...preset, budgetMinutes: 2 };
  const plan = planEpochs(p, 2, cal, withCeiling, 10);
  assert.equal([plan.teacherEpochs, plan.studentEpochs, plan.fitsBudget], [20, 4, true]);
  near(plan.expectedSeconds, 118.74);
});

test('the plan uses the budget: within one teacher epoch of it across calibrations, budgets and time already spent', () => {
  for (const scale of [0.3, 1, 3]) {
    for (const budget of [2, 5, 14]) {
      for (const spent of [0, 30]) {
        const c = new Map(
          [...cal].map(([k, v]) => [
            k,
            { ...v, trainSecondsPerImage: v.trainSecondsPerImage * scale, inferSecondsPerImage: v.inferSecondsPerImage * scale },
          ]),
        );
        const p = { ...preset, budgetMinutes: budget, teacherEpochs: 10000 };
        const plan = planEpochs(p, 2, c, withCeiling, spent);
        const oneMore = RUN_OVERHEAD * (teacherSeconds(p, 2, c, 2) - teacherSeconds(p, 2, c, 1));
        const what = `scale ${scale}, budget ${budget} min, spent ${spent} s: ${JSON.stringify(plan)}`;
        assert.ok(plan.fitsBudget && plan.expectedSeconds <= budget * 60 + 1e-9, `over budget: ${what}`);
        assert.ok(budget * 60 - plan.expectedSeconds < oneMore, `budget left unused: ${what}`);
        // The students got the most epochs that fit their share.
        const students = (e: number) => RUN_OVERHEAD * studentSeconds(p, 2, c, e, withCeiling);
        const share = STUDENT_SHARE * (budget * 60 - spent - REPORT_SECONDS);
        assert.ok(
          plan.studentEpochs === p.studentEpochs || students(plan.studentEpochs + 1) > share,
          `students could have had more: ${what}`,
        );
      }
    }
  }
  // Too slow for even 1 epoch each: flagged.
  const slow = planEpochs({ ...preset, budgetMinutes: 0.1 }, 2, cal, withCeiling, 0);
  assert.equal([slow.teacherEpochs, slow.studentEpochs, slow.fitsBudget], [1, 1, false]);
});

test('replanStudents: a slower-than-calibrated teacher cuts the student epochs to the budget left', () => {
  const p = { ...preset, budgetMinutes: 2 };
  const plan = { teacherEpochs: 20, studentEpochs: 4, expectedSeconds: 0, fitsBudget: true };
  assert.is(replanStudents(p, 2, cal, withCeiling, plan, 1, 0), 4, 'plenty of time: the preset maximum');
  // A faster-than-calibrated teacher (0.5) does not make the students faster than 1.25x their
  // calibration (STUDENT_RUN_OVERHEAD): at elapsed 80 (35 s left) 3 epochs at 1.25 x (8.8e + 0.4)
  // (33.5 s) fit and 4 (44.5 s) do not, though at 0.5 they would (17.8 s).
  assert.is(replanStudents(p, 2, cal, withCeiling, plan, 0.5, 80), 3);
  // Slowdown 2: e epochs need 2 x (8.8e + 0.4). Elapsed 60: left 55 -> e = 3 (53.6), not 4 (71.2).
  assert.is(replanStudents(p, 2, cal, withCeiling, plan, 2, 60), 3);
  assert.is(replanStudents(p, 2, cal, withCeiling, plan, 100, 100), 1, 'never below one epoch');
  assert.is(replanStudents({ ...p, budgetMinutes: null }, 2, cal, withCeiling, plan, 100, 1e6), 4, 'no budget: the plan stands');
});

test('teacherMayContinue: at least 2 epochs; then, planned or not, only while the students keep their time', () => {
  const p = { ...preset, teacherEpochs: 30, budgetMinutes: 2 };
  const plan = { teacherEpochs: 5, studentEpochs: 2, expectedSeconds: 0, fitsBudget: true };
  assert.ok(teacherMayContinue(p, 2, cal, withCeiling, plan, 1, 1000, 1000), 'below 2 epochs (and the plan) it always continues');
  // Below the planned 5 but far behind its pace (1000 s for 3 epochs): it stops, the students keep their time.
  assert.not.ok(teacherMayContinue(p, 2, cal, withCeiling, plan, 3, 1000, 1000));
  // At the calibrated pace after 3 epochs (6.6 s of training): elapsed, next epoch, the teacher's
  // test evaluation (10 x 0.02 s), the students at 1.25 x 18 s (STUDENT_RUN_OVERHEAD), the report:
  // 80 + 2.2 + 0.2 + 22.5 + 5 = 109.9 <= 120.
  assert.ok(teacherMayContinue(p, 2, cal, withCeiling, plan, 3, 6.6, 80));
  // At the calibrated pace (slowdown 1) after 5 epochs: training so far 5 x 2.2 = 11 s (2.2e + 0.2 less
  // the 0.2 s test evaluation); one more epoch 2.2 s; test evaluation 0.2 s; students 1.25 x 18 s
  // at 2 epochs; report 5 s. Elapsed 90: 90 + 2.2 + 0.2 + 22.5 + 5 = 119.9 <= 120 -> continue;
  // elapsed 95: 124.9 -> stop.
  assert.ok(teacherMayContinue(p, 2, cal, withCeiling, plan, 5, 11, 90));
  assert.not.ok(teacherMayContinue(p, 2, cal, withCeiling, plan, 5, 11, 95));
  assert.not.ok(teacherMayContinue({ ...p, budgetMinutes: 1000 }, 2, cal, withCeiling, plan, 30, 1, 1), 'the preset maximum ends it');
  // A teacher twice as fast as calibrated (5.5 s for 5 epochs): its next epoch is 1.1 s and its
  // test evaluation 0.1 s, but the students are still taken at 1.25 x 18 s: elapsed 91 ->
  // 91 + 1.1 + 0.1 + 22.5 + 5 = 119.7 fits; at 93, 121.7 does not (with a 0.5 slowdown for the
  // students it would have: 93 + 1.1 + 0.1 + 9 + 5).
  assert.ok(teacherMayContinue(p, 2, cal, withCeiling, plan, 5, 5.5, 91));
  assert.not.ok(teacherMayContinue(p, 2, cal, withCeiling, plan, 5, 5.5, 93));
});

test('studentSlowdown: never below STUDENT_RUN_OVERHEAD (1.25)', () => {
  assert.equal([studentSlowdown(0.52), studentSlowdown(1), studentSlowdown(1.7)], [1.25, 1.25, 1.7]);
});

test('learning rate: linear warm-up from lr/10 by step, then gamma per epoch after it', () => {
  near(learningRate(1e-3, 1, 1, 0), 1e-4);
  near(learningRate(1e-3, 1, 1, 0.5), 5.5e-4);
  near(learningRate(1e-3, 0.5, 1, 1), 1e-3);
  near(learningRate(1e-3, 0.5, 1, 2.3), 5e-4);
  near(learningRate(1e-3, 0.5, 0, 2), 2.5e-4, 1e-15);
});

test('default preset: 128-micron fields at 10x, three halvings, 1.25x at least 40x cheaper (layer counts), >= 307 test tiles, pool >= 4x labelled, a 4-point sweep, within 15 min', () => {
  const d = STUDY_PRESETS.default;
  const classes = CLASS_SETS[d.classes].length;
  assert.equal(d.mags, ['10x', '5x', '2.5x', '1.25x']);
  assert.ok(d.tile * 1 >= 128, 'the teacher sees at least 128 microns (1 um/px at 10x)');
  const arch = presetArch('rbd', { numClasses: classes });
  const top = countFlops(arch, [d.tile, d.tile]).total.forwardFlops;
  const low = countFlops(arch, [d.tile / 8, d.tile / 8]).total.forwardFlops;
  console.log(
    `    default preset: teacher ${(top / 1e6).toFixed(1)} MFLOPs at ${d.tile} px, 1.25x student ${(low / 1e6).toFixed(2)} MFLOPs at ${d.tile / 8} px: ${(top / low).toFixed(1)}x`,
  );
  assert.ok(top / low >= 40, `1.25x is only ${top / low}x cheaper`);
  // A 95% normal interval of +-4 points at 85% accuracy needs n >= 1.96^2 x 0.85 x 0.15 / 0.04^2 = 306.1.
  assert.ok(d.test * classes >= 307, `${d.test * classes} test tiles`);
  assert.ok(d.unlabeled >= 4 * d.train * classes, 'the pool is at least 4x the labelled set');
  assert.ok(2 + sweepSizes(d).length >= 4, 'sweep: 0, the full pool and at least two sizes between');
  assert.ok(d.budgetMinutes !== null && d.budgetMinutes < 15);
  const q = STUDY_PRESETS.quick;
  assert.ok(q.budgetMinutes !== null && q.budgetMinutes <= 3);
  const f = STUDY_PRESETS.full;
  assert.is(f.budgetMinutes, null);
  assert.equal([f.teacherEpochs, f.batch * f.accum, f.tile], [100, 32, 256]);
  for (const p of Object.values(STUDY_PRESETS))
    assert.ok(p.mags.includes('5x') && p.mags.includes('2.5x') && p.mags.includes('1.25x'), `${p.name} lacks a required magnification`);
});

test.run();
