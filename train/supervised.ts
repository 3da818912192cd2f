/**
 * Supervised training with labels (cross-entropy): `rbd teacher` at the top magnification and
 * `rbd baseline`, the labels-only student at a lower magnification that the paper compares
 * distillation against. Same network, loop and optimizer; only the magnification differs.
 */
import { Tensor } from '../engine/tensor.ts';
import { crossEntropy } from '../engine/ops/cross_entropy.ts';
import { learningRate } from './schedule.ts';
import { trainLoop, type LoopEpochRecord } from './loop.ts';
import { saveTrainState, loadTrainState, BEST_FILE, MODEL_FILE } from './train_state.ts';
import {
  type CommonTrainOptions,
  type ResolutionRecord,
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
import type { DataSource, PlannedBatch, Batch, SampleRef } from '../data/loader.ts';
import { join } from 'node:path';
import type { TeacherCacheStats } from './teacher_cache.ts';
import { precision } from '../engine/precision.ts';

export interface SupervisedOptions extends CommonTrainOptions {
  /** ceiling: the study's label-rich arm (labelled set plus the pool with its true labels, passed as `samples`). */
  role: 'teacher' | 'baseline' | 'ceiling';
  /** The labelled tiles to train on instead of the training split (the ceiling arm); default: the training split (capped by `limit`). */
  samples?: SampleRef[];
  /** Magnification name (`10x`); default for the teacher: the data's top magnification. */
  mag: string;
  allowUpsampled: boolean;
}

export interface TrainSummary {
  dir: string;
  role: string;
  mag: string;
  resolution: ResolutionRecord;
  epochs: number;
  trainImages: number;
  unlabeledCount: number;
  seconds: number;
  bestValAccuracy: number | null;
  records: LoopEpochRecord[];
  /** The checkpoint to evaluate (best by validation accuracy). */
  checkpoint: string;
  lastCheckpoint: string;
  /** Distillation with the teacher-target cache: its counts and teacher time (cumulative for a shared cache). */
  teacherCache?: TeacherCacheStats;
}

export async function trainSupervised(o: SupervisedOptions, preopened?: DataSource): Promise<TrainSummary> {
  const data = preopened ?? (await openTrainingData(o));
  const mag = o.mag || data.topLevel().name;
  const classes = data.classes.length;
  const resolution = resolutionOf(data, mag, runArch(o.arch, classes, o.init), o.allowUpsampled);
  const samples = o.samples ?? trainingSamples(data, o.limit, o.seed);
  const unlabeledCount = samples.filter((x) => x.split === 'unlabeled').length;
  const loader = trainingLoader(data, samples, [mag], o);
  const model = buildModel(o.arch, classes, o.seed, o.init);
  const optimizer = buildOptimizer(model, o);
  const config = {
    command: o.role,
    ...o,
    samples: undefined,
    mag,
    resolution,
    trainImages: samples.length - unlabeledCount,
    unlabeledCount,
    classes: data.classes,
    effectiveBatch: o.batch * o.accum,
    // The GEMM kernels' precision (engine/precision.ts), recorded in config.json and every checkpoint.
    precision: precision(),
  };
  prepareRunDir(o.out, config);
  const extras = {
    classNames: data.classes,
    magnification: data.level(mag).value,
    normalization: await data.normalization(mag),
    training: config,
  };
  const { bar, onEpoch } = trainingProgress(`${o.role} ${mag}`, o.verbose, o.epochs * samples.length);
  const started = performance.now();
  try {
    const { records, state } = await trainLoop<PlannedBatch, Batch>({
      outDir: o.out,
      epochs: o.epochs,
      accum: o.accum,
      lr: o.lr,
      gamma: o.gamma,
      optimizer,
      resume: o.resume,
      lrAt: o.warmupEpochs ? (t) => learningRate(o.lr, o.gamma, o.warmupEpochs!, t) : undefined,
      plan: (epoch) => loader.plan(epoch),
      load: (b) => loader.load(b),
      forward: (batch) => {
        const x = Tensor.from(batch.views[0].data, batch.views[0].shape);
        return { loss: crossEntropy(model.forward(x).logits, batch.labels) };
      },
      validate: () => validationAccuracy(model, data, mag, o.batch),
      saveEpoch: (state, improved) => saveTrainState(o.out, model, optimizer, state, improved, extras),
      loadResume: async () => loadTrainState(o.out, model, optimizer),
      onBatch: (i) => bar?.update(i.epoch * samples.length + i.images),
      onEpoch,
      keepGoing: o.keepGoing,
    });
    bar?.done();
    return {
      dir: o.out,
      role: o.role,
      mag,
      resolution,
      epochs: state.epoch + 1,
      trainImages: samples.length - unlabeledCount,
      unlabeledCount,
      seconds: (performance.now() - started) / 1000,
      bestValAccuracy: state.bestMetric,
      records,
      checkpoint: join(o.out, BEST_FILE),
      lastCheckpoint: join(o.out, MODEL_FILE),
    };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
