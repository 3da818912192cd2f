/**
 * The main job (`npm start` = `rbd study`): from nothing to a report.
 *
 *  1. data: runs/data/<preset>-<classes>-t<tile>-s<seed>/ generated with data/'s synthesizer
 *     if it is not there yet (never inside git); a folder made by another preset or seed is refused;
 *  2. calibration: a few timed training steps and forward passes at each input size on this
 *     adapter, which give the plan (study_plan.ts), the expected duration (printed before the
 *     long work starts) and the measured images/s of the report;
 *  3. the teacher at the top magnification (labels);
 *  4. per student magnification: baseline (labels only), KD on the labelled images (labels
 *     unused), KD plus the unlabeled pool, and the ceiling (labels on the labelled set plus the
 *     pool's true labels, which only synthetic data has);
 *  5. a sweep of the unlabeled-pool size at the lowest magnification;
 *  6. every model's best-validation checkpoint evaluated on the test split (bootstrap CIs), and
 *     paired comparisons between arms over the same test images;
 *  7. runs/<timestamp>/report.md, report.html, results.json, plots/.
 *
 * Resume: study.json in the run folder holds the preset, seed, data folder, calibration and
 * plan; each arm writes trained.json when its training ends and arm.json when its test
 * evaluation is done. `--resume RUN_DIR` keeps the arms with arm.json, and every other arm
 * continues from its last epoch checkpoint (train/loop.ts resume).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, tidy } from '../engine/tensor.ts';
import { backward, noGrad } from '../engine/autograd.ts';
import { runtime } from '../engine/runtime.ts';
import { Rng } from '../engine/random.ts';
import { crossEntropy } from '../engine/ops/cross_entropy.ts';
import { synthesize, GENERATOR_VERSION, HIDDEN_LABELS_FILE, type Manifest } from '../data/synth/synthesize.ts';
import { CLASS_SETS } from '../data/synth/classes.ts';
import { progress } from '../util/progress.ts';
import { ResNet } from '../models/resnet.ts';
import { presetArch } from '../models/arch.ts';
import { timestampedDir } from './files.ts';
import { RESUME_FILE } from './train_state.ts';
import { writeJson, readJson } from '../util/files.ts';
import { DataError } from '../data/errors.ts';
import { COMMON_DEFAULTS, type CommonTrainOptions } from './common.ts';
import { trainSupervised, type TrainSummary } from './supervised.ts';
import { trainDistill, loadTeacher, DEFAULT_AUGMENT_SET } from './distill.ts';
import { TeacherTargetCache, fileHash } from './teacher_cache.ts';
import { DEFAULT_DISTILL_LOSS } from './distill_loss.ts';
import { evaluateCheckpoint } from './evaluate.ts';
import { openDataSource, type DataSource, type SampleRef } from '../data/loader.ts';
import type { LoopEpochRecord } from './loop.ts';
import { writeStudyReport, architectureOnlyCap, type StudyResults, type StudyRow, type SweepPoint, type Arm } from './study_report.ts';
import { compareArms } from './paired.ts';
import { Adam } from '../engine/optim/adam.ts';
import {
  STUDY_PRESETS,
  planEpochs,
  replanStudents,
  teacherMayContinue,
  teacherSeconds,
  sweepSizes,
  type StudyPreset,
  type Calibration,
  type EpochPlan,
  type PlanOptions,
} from './study_plan.ts';

export { STUDY_PRESETS, type StudyPreset, type Calibration };

export interface StudyOptions {
  preset: StudyPreset;
  /** Data folder; default runs/data/<preset>-<classes>-t<tile>-s<seed>. */
  data: string | null;
  /** Parent of the timestamped run folder. */
  runsRoot: string;
  seed: number;
  verbose: boolean;
  /** A run folder to continue (preset, seed and data come from its study.json); null: a new run. */
  resume?: string | null;
  /** Skip unreadable images (each named once in a warning) instead of stopping. */
  skipBad?: boolean;
  /** Called after every epoch of every arm (tests: throw to simulate a killed study). */
  afterEpoch?: (arm: string, epoch: number) => void;
}

/** Time `reps` training steps and forward passes of the study's network on random images of one size. */
export async function calibrate(classes: number, size: number, batch: number, reps = 2): Promise<Calibration> {
  const model = new ResNet(presetArch('rbd', { numClasses: classes }), 0);
  const opt = new Adam(model.parameters(), { lr: 1e-4 });
  const rng = new Rng(size);
  const x = Tensor.from(
    rng.array(batch * 3 * size * size, () => rng.normal()),
    [batch, 3, size, size],
  );
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

/** Beside manifest.json: which study preset and seed made a data folder. */
export const MADE_BY_FILE = 'study_data.json';

interface MadeBy {
  preset: string;
  seed: number;
  classes: string;
  tile: number;
  mags: string[];
  train: number;
  val: number;
  test: number;
  unlabeled: number;
  generator: number;
}

function madeBy(p: StudyPreset, seed: number): MadeBy {
  return {
    preset: p.name,
    seed,
    classes: p.classes,
    tile: p.tile,
    mags: p.mags,
    train: p.train,
    val: p.val,
    test: p.test,
    unlabeled: p.unlabeled,
    generator: GENERATOR_VERSION,
  };
}

const describeMade = (m: MadeBy) =>
  `preset ${m.preset}, seed ${m.seed} (${m.classes} classes, ${m.tile} px tiles at ${m.mags.join('/')}, ${m.train}/${m.val}/${m.test} per class, ${m.unlabeled} unlabeled, generator v${m.generator})`;

/**
 * The data folder for a preset: generated (with a progress bar) when it has no manifest yet;
 * otherwise it must have been made by the same preset and seed (same generator), else refused
 * with a message naming both. A folder the user named (`given`) that is not synthetic (no
 * manifest, or one written by rbd tile) is a real data set: read, never written to.
 */
export async function ensureData(p: StudyPreset, dir: string, seed: number, verbose: boolean, given = false): Promise<boolean> {
  const want = madeBy(p, seed);
  if (existsSync(join(dir, 'manifest.json'))) {
    const m = readJson<Manifest>(join(dir, 'manifest.json'));
    if (given && m.classSet === undefined) return false;
    const classes = CLASS_SETS[p.classes].length;
    const have: MadeBy = existsSync(join(dir, MADE_BY_FILE))
      ? readJson<MadeBy>(join(dir, MADE_BY_FILE))
      : {
          preset: '(not made by rbd study)',
          seed: m.seed,
          classes: m.classSet,
          tile: m.tile,
          mags: m.magnifications.map((x) => x.name),
          train: m.counts.train / classes,
          val: m.counts.val / classes,
          test: m.counts.test / classes,
          unlabeled: m.counts.unlabeled,
          generator: m.version,
        };
    const same =
      JSON.stringify({ ...have, preset: '' }) === JSON.stringify({ ...want, preset: '' }) &&
      m.seed === seed &&
      m.version === GENERATOR_VERSION;
    if (!same) {
      throw new Error(
        `data folder ${dir} was made by ${describeMade(have)}, but this study is ${describeMade(want)}; remove the folder to regenerate it, or pass --data with a folder made for this preset and seed`,
      );
    }
    return false;
  }
  if (given && existsSync(dir) && readdirSync(dir).length > 0) return false;
  const total = (p.train + p.val + p.test) * CLASS_SETS[p.classes].length + p.unlabeled;
  const bar = verbose ? progress({ label: 'synth', total, unit: 'tiles' }) : null;
  await synthesize({
    out: dir,
    seed,
    train: p.train,
    val: p.val,
    test: p.test,
    unlabeled: p.unlabeled,
    tile: p.tile,
    mags: p.mags,
    classes: p.classes,
    overwrite: false,
    onProgress: (done) => bar?.update(done),
  });
  bar?.done();
  writeJson(join(dir, MADE_BY_FILE), want);
  return true;
}

/**
 * The unlabeled pool with its true classes, from the generator's unlabeled_truth.json; null
 * when the data has no such file (real data: the ceiling arm is then omitted).
 */
export function poolWithTrueLabels(data: DataSource): SampleRef[] | null {
  const path = join(data.root, HIDDEN_LABELS_FILE);
  if (!existsSync(path)) return null;
  const truth = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  return data.samples('unlabeled').map((s) => {
    const name = truth[s.key];
    const label = data.classes.indexOf(name);
    if (name === undefined || label < 0)
      throw new Error(`${path} has no known class for unlabeled tile ${s.key} (got ${JSON.stringify(name)}); regenerate the data`);
    return { ...s, label };
  });
}

/** The synthetic generator's knobs from the data folder's manifest, with the architecture-only cap (StudyResults.generator); undefined on real data. */
export function generatorKnobs(root: string, classes: number): StudyResults['generator'] {
  const path = join(root, 'manifest.json');
  if (!existsSync(path)) return undefined;
  const knobs = readJson<Partial<Manifest>>(path).knobs;
  if (!knobs || !Number.isFinite(knobs.architectureFidelity)) return undefined;
  return { ...knobs, architectureOnlyCap: architectureOnlyCap(knobs.architectureFidelity, classes) };
}

/** The ceiling arm's training set: the labelled training split plus the pool with its true labels (null without them). */
export function ceilingSamples(data: DataSource): SampleRef[] | null {
  const pool = poolWithTrueLabels(data);
  return pool ? [...data.samples('train'), ...pool] : null;
}

/** What study.json keeps, so a resumed study runs the same plan. */
interface StudyState {
  preset: StudyPreset;
  seed: number;
  dataDir: string;
  dataGenerated: boolean;
  startedAt: string;
  calibration: [string, Calibration][];
  plan: EpochPlan;
  /** Set after the teacher (re-planned from its measured pace). */
  studentEpochs: number | null;
  slowdown: number | null;
  /** Seconds per phase, summed over sessions (a resumed study adds to them). */
  timings: Record<string, number>;
}

/** One finished arm, as arm.json keeps it. */
interface ArmRecord {
  arm: string;
  mag: string;
  summary: TrainSummary;
  test: {
    accuracy: number;
    accuracyCI: [number, number];
    macroAuc: number;
    macroAucCI: [number, number];
    loss: number;
    confusion: number[][];
    predicted: number[];
    labels: number[];
  };
}

export async function runStudy(o: StudyOptions): Promise<{ dir: string; results: StudyResults }> {
  const clock = performance.now();
  const since = () => (performance.now() - clock) / 1000;
  const say = (line: string) => {
    if (o.verbose) console.log(line);
  };
  let dir: string;
  let state: StudyState;
  let data: DataSource;
  const resuming = !!o.resume;
  if (o.resume) {
    dir = o.resume;
    const path = join(dir, 'study.json');
    if (!existsSync(path)) throw new Error(`--resume ${dir}: no study.json there; pass the folder of a study run (runs/<time>)`);
    state = readJson<StudyState>(path);
    if (o.data && o.data !== state.dataDir)
      throw new Error(`--resume ${dir}: that study used data ${state.dataDir}, not ${o.data}; drop --data to resume it`);
    await ensureData(state.preset, state.dataDir, state.seed, o.verbose, true);
    data = await openDataSource(state.dataDir, { skipBad: o.skipBad });
    say(`rbd study: resuming ${dir} (${state.preset.name} preset, seed ${state.seed}); finished arms are kept`);
  } else {
    const p = o.preset;
    const dataDir = o.data ?? join(o.runsRoot, 'data', `${p.name}-${p.classes}-t${p.tile}-s${o.seed}`);
    say(`rbd study (${p.name} preset): data ${dataDir}, teacher ${p.mags[0]}, students ${p.mags.slice(1).join(', ')}`);
    say(
      p.budgetMinutes !== null
        ? `budget: ${p.budgetMinutes} min of wall clock in all (data generation included); the plan follows a calibration on this adapter`
        : `no time budget (preset ${p.name}): ${p.teacherEpochs}/${p.studentEpochs} epochs`,
    );
    const generated = await ensureData(p, dataDir, o.seed, o.verbose, o.data != null);
    const dataSeconds = since();
    data = await openDataSource(dataDir, { skipBad: o.skipBad });
    for (const m of p.mags) {
      try {
        data.level(m);
      } catch (e) {
        throw new DataError(
          `rbd study (${p.name} preset) needs the magnifications ${p.mags.join(', ')} (each lower one at most derived from ${p.mags[0]} by a whole-number factor), in the layout DIR/<mag>/{train,val,test}/<class>/*.png: ${(e as Error).message}`,
        );
      }
    }
    dir = timestampedDir(o.runsRoot);
    const t = performance.now();
    const cal = new Map<string, Calibration>();
    for (const mag of p.mags) cal.set(mag, await calibrate(data.classes.length, data.level(mag).tile, p.batch));
    const calibrationSeconds = (performance.now() - t) / 1000;
    const planOpts: PlanOptions = { ceiling: poolWithTrueLabels(data) !== null, cachedTargets: true, augmentSet: DEFAULT_AUGMENT_SET };
    const plan = planEpochs(p, data.classes.length, cal, planOpts, since());
    state = {
      preset: p,
      seed: o.seed,
      dataDir,
      dataGenerated: generated,
      startedAt: new Date(Date.now() - since() * 1000).toISOString(),
      calibration: [...cal],
      plan,
      studentEpochs: null,
      slowdown: null,
      timings: { data: dataSeconds, calibration: calibrationSeconds },
    };
    writeJson(join(dir, 'study.json'), state);
    const rates = p.mags
      .map((m) => `${m} ${data.level(m).tile}px ${(1 / cal.get(m)!.trainSecondsPerImage).toFixed(1)} train img/s`)
      .join(', ');
    say(
      p.budgetMinutes !== null
        ? `plan: teacher ${plan.teacherEpochs} epochs (more, up to ${p.teacherEpochs}, or fewer, down to 2, as its measured pace leaves the students their time), students ${plan.studentEpochs} (re-planned after the teacher, up to ${p.studentEpochs}), to fill the ${p.budgetMinutes} min budget`
        : `plan: teacher ${plan.teacherEpochs} epochs, students ${plan.studentEpochs} epochs`,
    );
    say(
      `expected duration: about ${(plan.expectedSeconds / 60).toFixed(1)} min in all (${(since() / 60).toFixed(1)} spent on data and calibration), from timed steps on ${runtime().gpu.adapter.name} (${rates}); results in ${dir}`,
    );
    if (!plan.fitsBudget)
      say(
        `warning: this adapter is too slow for the ${p.budgetMinutes} min budget even at 1 epoch each; expect about ${(plan.expectedSeconds / 60).toFixed(1)} min`,
      );
  }
  const p = state.preset;
  const seed = state.seed;
  const classes = data.classes.length;
  const cal = new Map(state.calibration);
  const pool = ceilingSamples(data);
  const planOpts: PlanOptions = { ceiling: pool !== null, cachedTargets: true, augmentSet: DEFAULT_AUGMENT_SET };
  const timings = state.timings;
  // Elapsed study time: earlier sessions' phases plus this session's clock.
  const earlier = Object.values(timings).reduce((s, v) => s + v, 0);
  const elapsed = () => (resuming ? earlier : 0) + since();
  const save = () => writeJson(join(dir, 'study.json'), state);
  const addTime = (phase: string, seconds: number) => {
    timings[phase] = (timings[phase] ?? 0) + seconds;
    save();
  };

  const common = (out: string, epochs: number, arm: string, keepGoing?: (r: LoopEpochRecord) => boolean): CommonTrainOptions => ({
    ...COMMON_DEFAULTS,
    data: state.dataDir,
    out,
    epochs,
    batch: p.batch,
    accum: p.accum,
    lr: p.lr,
    warmupEpochs: Math.min(p.warmupEpochs, epochs / 4),
    seed,
    verbose: o.verbose,
    // An arm a killed study had started continues from its last epoch; a new one starts fresh.
    resume: existsSync(join(out, RESUME_FILE)),
    skipBad: o.skipBad ?? false,
    keepGoing: (r) => {
      o.afterEpoch?.(arm, r.epoch);
      return keepGoing ? keepGoing(r) : true;
    },
  });

  /** Train (or resume, or reuse) one arm, then evaluate it on the test split. */
  const runArm = async (arm: string, mag: string, train: (out: string) => Promise<TrainSummary>): Promise<ArmRecord> => {
    const out = join(dir, arm === 'teacher' ? `teacher-${mag}` : `${arm}-${mag}`);
    if (existsSync(join(out, 'arm.json'))) return readJson<ArmRecord>(join(out, 'arm.json'));
    let summary: TrainSummary;
    if (existsSync(join(out, 'trained.json'))) summary = readJson<TrainSummary>(join(out, 'trained.json'));
    else {
      const t = performance.now();
      const targetsBefore = targets?.stats.teacherSeconds ?? 0;
      summary = await train(out);
      // Teacher passes that filled the shared cache are their own phase, not this arm's.
      const targetsTime = (targets?.stats.teacherSeconds ?? 0) - targetsBefore;
      if (targetsTime > 0) addTime('teacher targets', targetsTime);
      addTime(`${arm} ${mag} train`, (performance.now() - t) / 1000 - targetsTime);
      writeJson(join(out, 'trained.json'), summary);
    }
    const t = performance.now();
    const e = await evaluateCheckpoint(
      {
        checkpoint: summary.checkpoint,
        data: state.dataDir,
        splits: ['test'],
        mag,
        batch: p.batch,
        resamples: 1000,
        seed,
        out,
        allowUpsampled: false,
        skipBad: o.skipBad ?? false,
      },
      data,
    );
    addTime(`${arm} ${mag} evaluation`, (performance.now() - t) / 1000);
    const s = e.splits.test;
    const record: ArmRecord = {
      arm,
      mag,
      summary,
      test: {
        accuracy: s.accuracy,
        accuracyCI: s.accuracyCI,
        macroAuc: s.macroAuc,
        macroAucCI: s.macroAucCI,
        loss: s.loss,
        confusion: s.confusion,
        predicted: s.predicted,
        labels: s.labels,
      },
    };
    writeJson(join(out, 'arm.json'), record);
    say(
      `  -> ${arm} ${mag}: test accuracy ${(100 * s.accuracy).toFixed(1)}% [${(100 * s.accuracyCI[0]).toFixed(1)}, ${(100 * s.accuracyCI[1]).toFixed(1)}], macro AUC ${s.macroAuc.toFixed(3)}`,
    );
    return record;
  };

  // One teacher-target cache for every distillation arm and magnification (train/teacher_cache.ts),
  // kept on disk in the run folder so a resumed study does not run the teacher again.
  let targets: TeacherTargetCache | null = null;
  const teacherMag = p.mags[0];
  const teacherStart = elapsed();
  const teacher = await runArm('teacher', teacherMag, (out) =>
    trainSupervised(
      {
        ...common(out, p.teacherEpochs, 'teacher', (r) =>
          teacherMayContinue(p, classes, cal, planOpts, state.plan, r.epoch + 1, elapsed() - teacherStart, elapsed()),
        ),
        role: 'teacher',
        mag: teacherMag,
        allowUpsampled: false,
      },
      data,
    ),
  );
  if (state.studentEpochs === null) {
    const measured = timings[`teacher ${teacherMag} train`] + timings[`teacher ${teacherMag} evaluation`];
    state.slowdown = measured / teacherSeconds(p, classes, cal, teacher.summary.epochs);
    state.studentEpochs = replanStudents(p, classes, cal, planOpts, state.plan, state.slowdown, elapsed());
    save();
    say(
      `teacher: ${teacher.summary.epochs} epochs in ${measured.toFixed(0)} s with its test evaluation, ${state.slowdown.toFixed(2)}x the calibrated estimate; students: ${state.studentEpochs} epoch(s)${state.studentEpochs !== state.plan.studentEpochs ? ` (re-planned from ${state.plan.studentEpochs} for the budget left)` : ''}`,
    );
  }
  const studentEpochs = state.studentEpochs;

  const records: ArmRecord[] = [teacher];
  const sweepRecords: ArmRecord[] = [];
  const lowest = p.mags[p.mags.length - 1];
  const poolSize = data.samples('unlabeled').length;
  const sharedTargets = (): TeacherTargetCache => {
    if (!targets) {
      const t = loadTeacher(teacher.summary.checkpoint, data, lowest);
      targets = new TeacherTargetCache(t.model, fileHash(teacher.summary.checkpoint), t.mag, join(dir, 'teacher-targets'));
      say(
        `teacher cache: one for every distillation arm, in ${join(dir, 'teacher-targets')} (teacher outputs per tile and augmentation id, ${DEFAULT_AUGMENT_SET}-entry table)`,
      );
    }
    return targets;
  };
  const distill = (mag: string, unlabeled: number, arm: string) =>
    runArm(arm, mag, (out) =>
      trainDistill(
        {
          ...common(out, studentEpochs, `${arm} ${mag}`),
          ...DEFAULT_DISTILL_LOSS,
          teacher: teacher.summary.checkpoint,
          mag,
          unlabeled,
          cacheTeacher: true,
          augmentSet: DEFAULT_AUGMENT_SET,
          teacherTargets: sharedTargets(),
          allowUpsampled: false,
        },
        data,
      ),
    );
  try {
    for (const mag of p.mags.slice(1)) {
      records.push(
        await runArm('baseline', mag, (out) =>
          trainSupervised({ ...common(out, studentEpochs, `baseline ${mag}`), role: 'baseline', mag, allowUpsampled: false }, data),
        ),
      );
      const kd = await distill(mag, 0, 'kd');
      records.push(kd);
      const kdu = await distill(mag, poolSize, 'kd+unlabeled');
      records.push(kdu);
      if (pool)
        records.push(
          await runArm('ceiling', mag, (out) =>
            trainSupervised(
              { ...common(out, studentEpochs, `ceiling ${mag}`), role: 'ceiling', mag, allowUpsampled: false, samples: pool },
              data,
            ),
          ),
        );
      if (mag === lowest) {
        sweepRecords.push(kd);
        for (const u of sweepSizes({ ...p, unlabeled: poolSize })) sweepRecords.push(await distill(mag, u, `sweep-u${u}`));
        sweepRecords.push(kdu);
      }
    }
  } finally {
    (targets as TeacherTargetCache | null)?.teacher.dispose();
  }

  const t = performance.now();
  const level = (mag: string) => data.level(mag);
  const teacherGflops = teacher.summary.resolution.forwardGflops;
  const rows: StudyRow[] = records.map((r) => ({
    mag: level(r.mag).value,
    arm: r.arm as Arm,
    forwardGflops: r.summary.resolution.forwardGflops,
    costRelativeToTeacher: r.summary.resolution.forwardGflops / teacherGflops,
    imagesPerSecond: cal.get(r.mag)!.imagesPerSecond,
    inputSize: r.summary.resolution.inputSize,
    micronsPerPixel: r.summary.resolution.micronsPerPixel,
    testAccuracy: r.test.accuracy,
    testAccuracyCI: r.test.accuracyCI,
    testMacroAuc: r.test.macroAuc,
    testMacroAucCI: r.test.macroAucCI,
    testLoss: r.test.loss,
    unlabeledCount: r.summary.unlabeledCount,
    trainImages: r.summary.trainImages,
    epochs: r.summary.epochs,
    trainSeconds: r.summary.seconds,
    confusion: r.test.confusion,
    runDir: r.summary.dir,
    testPredicted: r.test.predicted,
  }));
  const sweep: SweepPoint[] = sweepRecords.map((r) => ({
    mag: level(r.mag).value,
    unlabeledCount: r.summary.unlabeledCount,
    testAccuracy: r.test.accuracy,
    testAccuracyCI: r.test.accuracyCI,
    testMacroAuc: r.test.macroAuc,
    runDir: r.summary.dir,
    testPredicted: r.test.predicted,
  }));
  const labels = teacher.test.labels;
  const comparisons = compareArms(
    records.map((r) => ({ mag: level(r.mag).value, arm: r.arm, predicted: r.test.predicted, labels: r.test.labels })),
    'teacher',
    p.mags.slice(1).map((m) => level(m).value),
    { resamples: 1000, seed },
  );
  const finishedAt = new Date();
  const results: StudyResults = {
    preset: p.name,
    startedAt: state.startedAt,
    finishedAt: finishedAt.toISOString(),
    durationSeconds: elapsed(),
    expectedSeconds: state.plan.expectedSeconds,
    adapter: runtime().gpu.adapter.name,
    classes: data.classes,
    teacherMag: level(teacherMag).value,
    studentMags: p.mags.slice(1).map((m) => level(m).value),
    data: {
      dir: state.dataDir,
      train: data.samples('train').length,
      val: data.samples('val').length,
      test: data.samples('test').length,
      unlabeled: poolSize,
      tileMicrons: data.topLevel().tile * data.topLevel().micronsPerPixel,
      generated: state.dataGenerated,
    },
    config: {
      ...p,
      teacherEpochsUsed: teacher.summary.epochs,
      studentEpochsUsed: studentEpochs,
      plannedTeacherEpochs: state.plan.teacherEpochs,
      plannedStudentEpochs: state.plan.studentEpochs,
      calibrationSlowdown: state.slowdown,
      seed,
      loss: DEFAULT_DISTILL_LOSS,
      weightDecay: COMMON_DEFAULTS.weightDecay,
      gamma: COMMON_DEFAULTS.gamma,
      augment: true,
      resumed: resuming,
    },
    rows,
    sweep,
    testLabels: labels,
    comparisons,
    claims: [],
    timings: { ...timings },
    ceiling: pool !== null,
    classSignals: CLASS_SETS[p.classes].map((c) => ({ name: c.name, ...c.signals })),
    generator: generatorKnobs(data.root, data.classes.length),
    notes: studyNotes(p, teacher.summary.epochs, studentEpochs, cal, pool !== null),
  };
  writeStudyReport(dir, results);
  addTime('report', (performance.now() - t) / 1000);
  results.timings = { ...timings };
  results.durationSeconds = elapsed();
  results.finishedAt = new Date().toISOString();
  writeStudyReport(dir, results);
  return { dir, results };
}

function studyNotes(
  p: StudyPreset,
  teacherEpochs: number,
  studentEpochs: number,
  cal: Map<string, Calibration>,
  ceiling: boolean,
): string[] {
  return [
    `Batching: the method feeds one image at a time and accumulates gradients over 32. Here tiles of one magnification share a size, so ${p.batch} go through together and ${p.accum} micro-batch(es) make one Adam step (effective batch ${p.batch * p.accum}); with GroupNorm a sample's activations do not depend on its batch-mates, so this matches one-at-a-time accumulation up to rounding.`,
    `Optimizer: Adam, lr ${p.lr}${p.warmupEpochs ? ` after a linear warm-up from lr/10, step by step, over the first ${p.warmupEpochs} epoch(s) (at most a quarter of a run's epochs)` : ''}, weight decay ${COMMON_DEFAULTS.weightDecay} added to the gradient (PyTorch Adam semantics), exponential decay gamma ${COMMON_DEFAULTS.gamma}; teacher ${teacherEpochs} epochs, students ${studentEpochs} epochs${p.budgetMinutes !== null ? `: planned from timed steps to fill the preset's ${p.budgetMinutes} min wall-clock budget (data generation included; preset maximum ${p.teacherEpochs}/${p.studentEpochs}), the teacher extended while time allowed and the students re-planned from the teacher's measured pace` : ''}. The paper trains 100 epochs (preset full).`,
    `Distillation loss: soft KL (T = ${DEFAULT_DISTILL_LOSS.temperature}, batchmean, times T^2) + L2 pixel loss between the student's stage-4 map and the teacher's map resized by the average of adaptive max pooling and bicubic interpolation (the official code's branch logic applies only the max-pool half and halves it; we implement the intended average). No label term.`,
    `Labels: teacher, baseline${ceiling ? ' and ceiling' : ''} train on labels; KD arms never see training labels.${ceiling ? " The ceiling arm trains with labels on the labelled set plus the unlabeled pool's true classes (known only because the data is synthetic): the most this magnification's pixels give with that many labelled tiles and the same epochs." : ''} Every arm keeps the epoch with the best validation accuracy (validation labels are used for that choice only), and is evaluated once on the test split.`,
    `Augmentation: random flips, 90-degree rotations and colour jitter (0.5/0.5/0.5/0.2), the same transform on the teacher and student views of a tile. Distillation draws each tile's transform from a fixed table of ${DEFAULT_AUGMENT_SET} (8 flips/turns x colour draws), so the frozen teacher's logits and stage-4 maps are computed once per (tile, transform) and shared by every distillation arm and magnification (teacher-target cache, exact: train/teacher_cache.ts); that time is the 'teacher targets' phase.`,
    `Honest resolution: each student received its magnification's native tile (${p.mags.map((m) => `${m}: ${cal.get(m)!.size} px`).join(', ')}), never an upsampled one; FLOPs are counted from the layer shapes at those sizes (models/flops.ts).`,
    `Speed: images/s are forward passes (batch ${p.batch}) timed on this adapter before training; at small tiles fixed per-dispatch costs dominate, so speed grows far less than the FLOP count falls.`,
    "Data: synthetic H&E-like tiles whose class parameters were set from the described histology (see 'What the data carries at each scale') before any study was run, and not tuned afterwards to make a claim agree; lower magnifications are exact area downsamples of the rendered tile. Results on this data say whether the pipeline behaves as the method predicts, not how it does on real slides.",
    'Confidence intervals: 1000 seeded bootstrap resamples of the test images (percentile method). Differences between two arms use a paired bootstrap: each resample of the test images scores both arms, so the interval reflects only the images on which they disagree.',
  ];
}
