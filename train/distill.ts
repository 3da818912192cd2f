/**
 * `rbd distill`: resolution-based distillation. The teacher (frozen: eval mode, under noGrad,
 * never updated) sees the tile at its high magnification; the student, same architecture, sees
 * the same tile at the student magnification, with the same augmentation. Loss: train/distill_loss.ts.
 * No labels are used for training: the labelled training images are used without their labels,
 * plus up to `unlabeled` images of the unlabeled pool. Validation accuracy (labels of the val
 * split) only picks which epoch's weights are kept as best.safetensors, as for the other arms.
 *
 * Teacher-target cache (`cacheTeacher`, train/teacher_cache.ts): augmentation is drawn from a
 * fixed table of `augmentSet` entries (8 symmetries x colour draws), so the teacher's logits and
 * stage-4 map are computed once per (tile, augmentation id) and epochs never run the teacher
 * again; the study shares one cache across all its distillation arms (`teacherTargets`).
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { parseMag } from '../data/mag.ts';
import { Tensor } from '../engine/tensor.ts';
import { noGrad } from '../engine/autograd.ts';
import { Rng } from '../engine/random.ts';
import { hashSeed } from '../data/seed.ts';
import { loadCheckpoint } from '../models/checkpoint.ts';
import { ResNet, type ResNetOutput } from '../models/resnet.ts';
import { learningRate } from './schedule.ts';
import { trainLoop } from './loop.ts';
import { saveTrainState, loadTrainState, BEST_FILE, MODEL_FILE } from './train_state.ts';
import { distillLoss, type DistillLossOptions } from './distill_loss.ts';
import {
  type CommonTrainOptions,
  trainingSamples,
  trainingLoader,
  buildModel,
  runArch,
  buildOptimizer,
  resolutionOf,
  validationAccuracy,
  prepareRunDir,
  trainingProgress,
  openTrainingData,
} from './common.ts';
import type { TrainSummary } from './supervised.ts';
import { TeacherTargetCache, fileHash, type TeacherTargets } from './teacher_cache.ts';
import { type DataSource, type SampleRef, type PlannedBatch, type View } from '../data/loader.ts';
import { precision } from '../engine/precision.ts';

export interface DistillOptions extends CommonTrainOptions, DistillLossOptions {
  teacher: string;
  /** For a teacher without our metadata (a PyTorch state_dict): its magnification (`10x`), its classes in the order of its outputs, GroupNorm's group count. */
  teacherMag?: string;
  teacherClasses?: string[];
  teacherGroups?: number;
  /** Student magnification name. */
  mag: string;
  /** Images of the unlabeled pool to add (capped at the pool size). */
  unlabeled: number;
  cacheTeacher: boolean;
  /** Entries of the fixed augmentation table (a multiple of 8); default 16 when caching, else none (fresh draws). */
  augmentSet?: number;
  /** A cache to share (the study's, across arms); must hold this teacher. Implies cacheTeacher. */
  teacherTargets?: TeacherTargetCache;
  /** Where cache entries persist (with cacheTeacher and no shared cache); null: memory only. */
  teacherCacheDir?: string | null;
  allowUpsampled: boolean;
}

export const DEFAULT_AUGMENT_SET = 16;

interface LoadedPair {
  size: number;
  labels: Int32Array;
  student: View;
  /** The teacher's images, or its cached outputs. */
  teacher: View | TeacherTargets;
}

function isCached(t: View | TeacherTargets): t is TeacherTargets {
  return 'logits' in t;
}

export interface TeacherOverrides {
  mag?: string;
  classes?: string[];
  groups?: number;
}

/**
 * Load the teacher and check it fits the data: same classes, a magnification the data has,
 * above the student's. A teacher without our metadata (a PyTorch state_dict, in the method's or
 * torchvision's names) takes its magnification and class names from `overrides`; where the file
 * records them, overrides must agree.
 */
export function loadTeacher(
  path: string,
  data: DataSource,
  studentMag: string,
  overrides: TeacherOverrides = {},
): { model: ResNet; mag: string } {
  if (!existsSync(path))
    throw new Error(
      `teacher checkpoint ${path} does not exist; train one first with 'rbd teacher --out DIR' (it writes DIR/best.safetensors)`,
    );
  const { model, info } = loadCheckpoint(path, overrides.groups ? { groups: overrides.groups } : {});
  const fail = (message: string): never => {
    model.dispose();
    throw new Error(message);
  };
  let classNames = info.classNames;
  if (overrides.classes) {
    if (overrides.classes.length !== info.arch.numClasses)
      fail(`--classes names ${overrides.classes.length} classes but teacher ${path} has ${info.arch.numClasses} outputs`);
    if (!info.inferred && overrides.classes.some((c, i) => c !== info.classNames[i]))
      fail(`--classes ${overrides.classes.join(',')} disagrees with the classes teacher ${path} records [${info.classNames.join(', ')}]`);
    classNames = overrides.classes;
  } else if (info.inferred) {
    fail(
      `teacher ${path} is a bare state_dict without class names; pass --classes ${data.classes.join(',')} (its output order) if that is what it was trained on`,
    );
  }
  const same = classNames.length === data.classes.length && classNames.every((c, i) => c === data.classes[i]);
  if (!same)
    fail(
      `teacher ${path} was trained on classes [${classNames.join(', ')}] but the data at ${data.root} has [${data.classes.join(', ')}]; distill with a teacher trained on this data's classes`,
    );
  let magnification = info.magnification;
  if (overrides.mag) {
    const given = parseMag(overrides.mag);
    if (!given) fail(`--teacher-mag '${overrides.mag}' is not a magnification; write it like 10x`);
    if (magnification !== null && Math.abs(magnification - given!.value) > 1e-9)
      fail(`--teacher-mag ${overrides.mag} disagrees with the ${magnification}x teacher ${path} records`);
    magnification = given!.value;
  }
  if (magnification === null)
    fail(`teacher ${path} does not record its magnification; pass --teacher-mag (e.g. --teacher-mag 10x) with the one it was trained at`);
  const mag = data.levels.find((l) => Math.abs(l.value - magnification!) < 1e-9);
  if (!mag)
    fail(
      `teacher ${path} was trained at ${magnification}x but the data at ${data.root} has no ${magnification}x images (it has ${data.levels.map((l) => l.name).join(', ')})`,
    );
  if (mag!.value <= data.level(studentMag).value) fail(`the student magnification ${studentMag} must be below the teacher's ${mag!.name}`);
  model.eval();
  return { model, mag: mag!.name };
}

export async function trainDistill(o: DistillOptions, preopened?: DataSource): Promise<TrainSummary> {
  const data = preopened ?? (await openTrainingData(o));
  const classes = data.classes.length;
  data.level(o.mag); // unknown magnification: throws naming the ones available
  const teacher = loadTeacher(o.teacher, data, o.mag, { mag: o.teacherMag, classes: o.teacherClasses, groups: o.teacherGroups });
  // The method's student has the teacher's shape (its stage-4 map is what the pixel loss compares):
  // the teacher's architecture, unless --init gives the student's own weights.
  const studentArch = o.init ? runArch(o.arch, classes, o.init) : { ...teacher.model.arch, numClasses: classes };
  let resolution: ReturnType<typeof resolutionOf>;
  try {
    resolution = resolutionOf(data, o.mag, studentArch, o.allowUpsampled);
  } catch (e) {
    teacher.model.dispose();
    throw e;
  }
  const labelled = trainingSamples(data, o.limit, o.seed);
  const pool = data.samples('unlabeled');
  const unlabeled = new Rng(hashSeed(o.seed, 0x0b1)).shuffle([...pool]).slice(0, Math.min(o.unlabeled, pool.length));
  // Labels are dropped: the distillation loss never sees them (only the optional CE term does).
  const samples: SampleRef[] = [...labelled.map((s) => ({ ...s, label: o.ceWeight > 0 ? s.label : -1 })), ...unlabeled];
  const cached = o.cacheTeacher || o.teacherTargets !== undefined;
  const augmentSet = o.augmentSet ?? DEFAULT_AUGMENT_SET;
  const loader = trainingLoader(data, samples, [teacher.mag, o.mag], o, cached ? augmentSet : o.augmentSet);
  if (o.teacherTargets && o.teacherTargets.teacherMag !== teacher.mag)
    throw new Error(`the shared teacher cache holds a ${o.teacherTargets.teacherMag} teacher, but ${o.teacher} is at ${teacher.mag}`);
  const targets =
    o.teacherTargets ??
    (cached ? new TeacherTargetCache(teacher.model, fileHash(o.teacher), teacher.mag, o.teacherCacheDir ?? null) : null);
  const student = o.init ? buildModel(o.arch, classes, o.seed, o.init) : new ResNet(studentArch, o.seed);
  const optimizer = buildOptimizer(student, o);
  const config = {
    command: 'distill',
    ...o,
    teacherMag: teacher.mag,
    resolution,
    trainImages: labelled.length,
    unlabeledCount: unlabeled.length,
    unlabeledPool: pool.length,
    classes: data.classes,
    effectiveBatch: o.batch * o.accum,
    // The GEMM kernels' precision (engine/precision.ts), recorded in config.json and every checkpoint.
    precision: precision(),
    teacherCache: cached
      ? `used: teacher outputs computed once per tile and augmentation id (${o.augment ? `${augmentSet}-entry augmentation table` : 'no augmentation'})`
      : 'not used',
    teacherTargets: undefined, // the shared cache object itself is not configuration
  };
  prepareRunDir(o.out, config);
  // Said once by whoever owns the cache: a shared one (the study's) is announced by its owner, not by every arm.
  if (o.verbose && cached && !o.teacherTargets) console.log(`teacher cache: ${config.teacherCache}`);
  const extras = {
    classNames: data.classes,
    magnification: data.level(o.mag).value,
    normalization: await data.normalization(o.mag),
    training: config,
  };
  const { bar, onEpoch } = trainingProgress(`distill ${teacher.mag}->${o.mag}`, o.verbose, o.epochs * samples.length);
  const started = performance.now();

  async function load(b: PlannedBatch): Promise<LoadedPair> {
    if (!targets) {
      const pair = await loader.load(b);
      return { size: pair.size, labels: pair.labels, teacher: pair.views[0], student: pair.views[1] };
    }
    const batch = await loader.load(b, [o.mag]);
    const t = await targets.targets(loader, batch.refs, batch.augmentIds ?? batch.refs.map(() => 0));
    return { size: batch.size, labels: batch.labels, student: batch.views[0], teacher: t };
  }

  function forward(l: LoadedPair) {
    const tb = l.teacher;
    const t: ResNetOutput = isCached(tb)
      ? { logits: Tensor.from(tb.logits, [l.size, classes]), features: Tensor.from(tb.features, [l.size, ...tb.featureShape]) }
      : noGrad(() => teacher.model.forward(Tensor.from(tb.data, tb.shape)));
    const s = student.forward(Tensor.from(l.student.data, l.student.shape));
    const labels = l.labels.every((x) => x >= 0) ? l.labels : undefined;
    return distillLoss(s, t, o, labels);
  }

  try {
    const { records, state } = await trainLoop<PlannedBatch, LoadedPair>({
      outDir: o.out,
      epochs: o.epochs,
      accum: o.accum,
      lr: o.lr,
      gamma: o.gamma,
      optimizer,
      resume: o.resume,
      lrAt: o.warmupEpochs ? (t) => learningRate(o.lr, o.gamma, o.warmupEpochs!, t) : undefined,
      plan: (epoch) => loader.plan(epoch),
      load,
      forward,
      validate: () => validationAccuracy(student, data, o.mag, o.batch),
      saveEpoch: (state, improved) => saveTrainState(o.out, student, optimizer, state, improved, extras),
      loadResume: async () => loadTrainState(o.out, student, optimizer),
      onBatch: (i) => bar?.update(i.epoch * samples.length + i.images),
      onEpoch,
      keepGoing: o.keepGoing,
    });
    bar?.done();
    return {
      dir: o.out,
      role: unlabeled.length ? 'kd+unlabeled' : 'kd',
      mag: o.mag,
      resolution,
      epochs: state.epoch + 1,
      trainImages: labelled.length,
      unlabeledCount: unlabeled.length,
      seconds: (performance.now() - started) / 1000,
      bestValAccuracy: state.bestMetric,
      records,
      checkpoint: join(o.out, BEST_FILE),
      lastCheckpoint: join(o.out, MODEL_FILE),
      teacherCache: targets ? { ...targets.stats } : undefined,
    };
  } finally {
    student.dispose();
    optimizer.dispose();
    teacher.model.dispose();
  }
}
