/** The study's time plan: expected duration from a calibration, worked out by hand; epochs fitted to a budget. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectedSeconds, planEpochs, replanStudents, teacherMayContinue, teacherSeconds, studentSeconds, RUN_OVERHEAD, MIN_STUDENT_EPOCHS, STUDY_PRESETS, type StudyPreset, type Calibration } from '../../train/study.ts';

const preset: StudyPreset = {
  name: 't', classes: 'cd', tile: 32, mags: ['10x', '5x'], train: 10, val: 5, test: 5, unlabeled: 30,
  teacherEpochs: 3, studentEpochs: 2, budgetMinutes: null, batch: 8, accum: 1, lr: 1e-3, sweep: [],
};
const cal = new Map<string, Calibration>([
  ['10x', { size: 32, trainSecondsPerImage: 0.1, inferSecondsPerImage: 0.02, imagesPerSecond: 50 }],
  ['5x', { size: 16, trainSecondsPerImage: 0.05, inferSecondsPerImage: 0.01, imagesPerSecond: 100 }],
]);

test('expectedSeconds of a 2-class, 2-magnification plan, by hand', () => {
  // 20 train, 10 val, 10 test images.
  // teacher: 3 epochs x 20 x 0.1 = 6; validation 3 x 10 + test 10 = 40 forwards x 0.02 = 0.8   -> 6.8
  // baseline 5x: 2 x 20 x 0.05 = 2; (2 x 10 + 10) x 0.01 = 0.3                               -> 2.3
  // kd 5x: 2 x 20 x (0.05 + 0.02 teacher forward) = 2.8, + 0.3                                 -> 3.1
  // kd+unlabeled 5x: 2 x (20 + 30) x 0.07 = 7, + 0.3                                           -> 7.3
  // total 19.5 s.
  assert.ok(Math.abs(expectedSeconds(preset, 2, cal) - 19.5) < 1e-9, `got ${expectedSeconds(preset, 2, cal)}`);
});

test('planEpochs: no budget keeps the preset; a budget takes the most epochs that fit', () => {
  assert.equal(planEpochs(preset, 2, cal), { teacherEpochs: 3, studentEpochs: 2, expectedSeconds: RUN_OVERHEAD * 19.5, fitsBudget: true });
  const big = { ...preset, teacherEpochs: 8, studentEpochs: 4, budgetMinutes: 100 };
  assert.equal([planEpochs(big, 2, cal).teacherEpochs, planEpochs(big, 2, cal).studentEpochs], [8, 4]);
  // A budget of 1 min: the chosen plan fits, keeps MIN_STUDENT_EPOCHS, and one more teacher epoch would not fit.
  const tight = { ...big, budgetMinutes: 1 };
  const plan = planEpochs(tight, 2, cal);
  assert.ok(plan.fitsBudget && plan.expectedSeconds <= 60 && plan.studentEpochs >= MIN_STUDENT_EPOCHS, `plan ${JSON.stringify(plan)}`);
  const t = plan.teacherEpochs + 1;
  const next = RUN_OVERHEAD * expectedSeconds({ ...tight, teacherEpochs: t, studentEpochs: Math.max(MIN_STUDENT_EPOCHS, Math.round(t / 2)) }, 2, cal);
  assert.ok(next > 60, `a bigger plan (${next} s) would also have fit`);
  // Too slow for even the minimum: the minimum, flagged.
  const hopeless = planEpochs({ ...big, budgetMinutes: 0.01 }, 2, cal);
  assert.equal([hopeless.teacherEpochs, hopeless.studentEpochs, hopeless.fitsBudget], [2, 1, false]);
});

test('replanStudents: a slower-than-calibrated teacher cuts the student epochs to the budget left', () => {
  const p = { ...preset, teacherEpochs: 8, studentEpochs: 4, budgetMinutes: 10 };
  const plan = { teacherEpochs: 8, studentEpochs: 4, expectedSeconds: 0, fitsBudget: true };
  // The 2-epoch students cost 2.3 + 3.1 + 7.3 = 12.7 s (first test); with a slowdown of 2, a budget
  // just above 2 x 12.7 s fits 2 epochs and not 3.
  assert.ok(Math.abs(studentSeconds(p, 2, cal, 2) - 12.7) < 1e-9);
  assert.is(replanStudents(p, 2, cal, plan, 1, 1e6), 4, 'plenty of time: the plan stands');
  const left = 2 * studentSeconds(p, 2, cal, 2) + 0.01; // slowdown 2: exactly 2 epochs fit
  assert.is(replanStudents(p, 2, cal, plan, 2, left), 2);
  assert.is(replanStudents(p, 2, cal, plan, 100, 1), 1, 'never below one epoch');
});

test('teacherMayContinue: planned epochs always; beyond them only while the students keep their time', () => {
  const p = { ...preset, teacherEpochs: 10, studentEpochs: 2, budgetMinutes: 1 };
  const plan = { teacherEpochs: 2, studentEpochs: 2, expectedSeconds: 0, fitsBudget: true };
  // At the calibrated pace teacherSeconds(e) = e x 20 x 0.1 + (e x 10 + 10) x 0.02, so one epoch adds 2.2 s.
  const perEpoch = teacherSeconds(p, 2, cal, 2) - teacherSeconds(p, 2, cal, 1);
  assert.ok(Math.abs(perEpoch - 2.2) < 1e-9);
  assert.ok(teacherMayContinue(p, 2, cal, plan, 1, 1000), 'below the planned epochs it always continues');
  // After 3 epochs on pace (slowdown 1): 3 epochs + 1 more + the students' 12.7 s must fit 60 s.
  const elapsed3 = teacherSeconds(p, 2, cal, 3);
  assert.is(teacherMayContinue(p, 2, cal, plan, 3, elapsed3), elapsed3 + elapsed3 / 3 + 12.7 <= 60);
  // At 10x the pace nothing more fits; at the preset maximum it stops whatever the time.
  assert.not.ok(teacherMayContinue(p, 2, cal, plan, 3, 10 * elapsed3));
  assert.not.ok(teacherMayContinue({ ...p, budgetMinutes: 1000 }, 2, cal, plan, 10, 10 * perEpoch));
});

test('presets: default has a budget within 15 minutes, full has none and the paper schedule', () => {
  assert.ok(STUDY_PRESETS.default.budgetMinutes !== null && STUDY_PRESETS.default.budgetMinutes <= 12);
  assert.is(STUDY_PRESETS.full.budgetMinutes, null);
  assert.equal([STUDY_PRESETS.full.teacherEpochs, STUDY_PRESETS.full.batch * STUDY_PRESETS.full.accum, STUDY_PRESETS.full.tile], [100, 32, 256]);
  for (const p of Object.values(STUDY_PRESETS)) assert.ok(p.mags.includes('5x') && p.mags.includes('2.5x') && p.mags.includes('1.25x'), `${p.name} lacks a required magnification`);
});

test.run();
