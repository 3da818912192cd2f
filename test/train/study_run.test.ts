/**
 * The study end to end at a tiny size: a study killed in the middle of an arm and resumed gives
 * the results of an uninterrupted one, keeping the finished arms; the ceiling arm trains on the
 * labelled split plus the pool with the generator's true labels and nothing else; a data folder
 * made for another preset or seed is refused naming both.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, statSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpu } from '../helpers/gpu.ts';
import { runStudy, ensureData, ceilingSamples } from '../../train/study.ts';
import { openDataSource } from '../../data/loader.ts';
import { hiddenClassOf } from '../../data/synth/synthesize.ts';
import type { StudyPreset } from '../../train/study_plan.ts';
import type { StudyResults } from '../../train/study_report.ts';

const tmp = mkdtempSync(join(tmpdir(), 'rbd-study-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.before(async () => {
  await gpu();
});

// 3 classes x (2 train, 1 val, 2 test) + 8 unlabeled; 16 px at 10x, 8 px at 5x; no time budget.
const tiny: StudyPreset = {
  name: 'tiny',
  classes: 'cd',
  tile: 16,
  mags: ['10x', '5x'],
  train: 2,
  val: 1,
  test: 2,
  unlabeled: 8,
  teacherEpochs: 2,
  studentEpochs: 2,
  budgetMinutes: null,
  batch: 4,
  accum: 1,
  lr: 1e-3,
  warmupEpochs: 1,
  sweep: [4],
};
const dataDir = join(tmp, 'data');

class Killed extends Error {}

/** What must be equal between the two studies (not times or folders). */
const outcome = (r: StudyResults) => ({
  rows: r.rows.map((x) => [
    x.mag,
    x.arm,
    x.epochs,
    x.testAccuracy,
    x.testAccuracyCI,
    x.testMacroAuc,
    x.testPredicted,
    x.unlabeledCount,
    x.trainImages,
  ]),
  sweep: r.sweep.map((x) => [x.unlabeledCount, x.testAccuracy, x.testPredicted]),
  comparisons: r.comparisons,
  claims: r.claims,
});

test("the ceiling arm: the labelled split plus the pool with the generator's true labels, nothing else", async () => {
  await ensureData(tiny, dataDir, 5, false);
  const data = await openDataSource(dataDir);
  const samples = ceilingSamples(data)!;
  const train = data.samples('train');
  const pool = data.samples('unlabeled');
  assert.equal(samples.slice(0, train.length), train, 'the labelled split, labels unchanged');
  const rest = samples.slice(train.length);
  assert.equal(
    rest.map((s) => [s.split, s.key]),
    pool.map((s) => [s.split, s.key]),
    'then exactly the unlabeled pool',
  );
  for (const s of rest) assert.is(s.label, hiddenClassOf(5, Number(s.key.slice('tile_'.length)), 3), `true class of ${s.key}`);
  assert.ok(new Set(rest.map((s) => s.label)).size > 1, 'the pool has more than one class');
  assert.not.ok(
    samples.some((s) => s.split === 'val' || s.split === 'test'),
    'no validation or test tile',
  );
});

test('a data folder made for another preset or seed is refused, naming both', async () => {
  for (const [p, seed] of [
    [tiny, 6],
    [{ ...tiny, name: 'other', test: 3 }, 5],
  ] as const) {
    try {
      await ensureData(p, dataDir, seed, false);
      assert.unreachable('accepted');
    } catch (e) {
      const m = (e as Error).message;
      assert.match(m, `was made by preset tiny, seed 5`);
      assert.match(m, `this study is preset ${p.name}, seed ${seed}`);
    }
  }
  assert.is(await ensureData(tiny, dataDir, 5, false), false, 'the same preset and seed reuse it');
});

test('a study killed in the middle of an arm resumes to the results of an uninterrupted one; finished arms are kept', async () => {
  const whole = await runStudy({ preset: tiny, data: dataDir, runsRoot: join(tmp, 'whole'), seed: 5, verbose: false });
  let dir = '';
  try {
    await runStudy({
      preset: tiny,
      data: dataDir,
      runsRoot: join(tmp, 'killed'),
      seed: 5,
      verbose: false,
      afterEpoch: (arm, epoch) => {
        if (arm === 'kd+unlabeled 5x' && epoch === 0) throw new Killed();
      },
    });
    assert.unreachable('the kill did not happen');
  } catch (e) {
    if (!(e instanceof Killed)) throw e;
  }
  dir = join(tmp, 'killed', readdirSync(join(tmp, 'killed'))[0]);
  const teacherArm = join(dir, 'teacher-10x', 'arm.json');
  const before = statSync(teacherArm).mtimeMs;
  assert.ok(
    existsSync(join(dir, 'kd+unlabeled-5x', 'model.safetensors')) && !existsSync(join(dir, 'kd+unlabeled-5x', 'trained.json')),
    'the killed arm had a checkpoint and had not finished',
  );
  const resumed = await runStudy({ preset: tiny, data: null, runsRoot: join(tmp, 'unused'), seed: 0, verbose: false, resume: dir });
  assert.is(statSync(teacherArm).mtimeMs, before, 'the finished teacher was not retrained or re-evaluated');
  // The interrupted arm continued from its epoch-1 checkpoint: its log has epochs 0 and 1 once each.
  const log = readFileSync(join(dir, 'kd+unlabeled-5x', 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).epoch);
  assert.equal(log, [0, 1]);
  assert.equal(outcome(resumed.results), outcome(whole.results));
  assert.ok(
    resumed.results.rows.some((r) => r.arm === 'ceiling'),
    'the ceiling arm ran',
  );
  assert.is(resumed.results.comparisons!.length, 4);
  // The generator's knobs come from the data's manifest: the default fidelity 0.6 over 3 classes.
  assert.equal(whole.results.generator, {
    architectureFidelity: 0.6,
    nuclearStrength: 1,
    variation: 1,
    architectureOnlyCap: 0.6 + 0.4 / 3,
  });
  // Distillation read the teacher's outputs from the shared cache, persisted in the run folder.
  assert.ok(readdirSync(join(dir, 'teacher-targets')).length === 1, 'one teacher folder of cache entries');
  assert.ok((whole.results.timings!['teacher targets'] ?? 0) > 0, 'the teacher-targets phase was timed');
});

test.run();
