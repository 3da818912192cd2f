/**
 * What teacher, baseline and distillation training share: options, the seeded epoch plan,
 * building model and optimizer, the honest-resolution record, validation, and the run folder.
 *
 * Batching: the method feeds one image at a time and accumulates gradients over 32. Here the
 * tiles of one magnification all have the same size, so `--batch` images go through together
 * (far fewer, larger dispatches) and `--accum` micro-batches make one optimizer step: the
 * effective batch is batch x accum images, the loss of a step the mean over them. With
 * GroupNorm, a sample's activations do not depend on the other samples in its batch, so this
 * gives the same gradients as one-at-a-time accumulation (up to float rounding).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../engine/random.ts';
import { hashSeed } from '../data/seed.ts';
import { Tensor, tidy } from '../engine/tensor.ts';
import { noGrad } from '../engine/autograd.ts';
import { Adam } from '../engine/optim/adam.ts';
import { ResNet } from '../models/resnet.ts';
import { presetArch, type ResNetArch } from '../models/arch.ts';
import { checkpointInfo, loadCheckpoint } from '../models/checkpoint.ts';
import { readSafetensors } from '../models/safetensors.ts';
import { methodNames } from '../models/torchvision_names.ts';
import { countFlops } from '../models/flops.ts';
import { progress, type Progress } from '../util/progress.ts';
import { writeJson } from '../util/files.ts';
import { classificationReport, type ClassificationReport } from './metrics.ts';
import type { LoopEpochRecord } from './loop.ts';
import { Loader, openDataSource, type DataSource, type SampleRef, type SplitName } from '../data/loader.ts';
import { DEFAULT_AUGMENT } from '../data/augment.ts';

export interface CommonTrainOptions {
  /** Data folder (ImageFolder layout per magnification, see data/). */
  data: string;
  out: string;
  epochs: number;
  batch: number;
  accum: number;
  lr: number;
  weightDecay: number;
  gamma: number;
  seed: number;
  augment: boolean;
  resume: boolean;
  /** Use at most this many labelled training images (0: all). */
  limit: number;
  /** Architecture preset of models/arch.ts. */
  arch: string;
  /** Start from these weights (a checkpoint, or a PyTorch state_dict in the method's or torchvision's names): architecture from the file; a head for other classes is drawn anew. */
  init?: string;
  /** Print per-epoch lines and a progress bar (false in tests). */
  verbose: boolean;
  /** Skip unreadable images (each named once in a warning) instead of stopping. */
  skipBad: boolean;
  /** Random square crops of this side (pixels) for single-magnification training; 0 or absent: whole tiles. Evaluation always sees whole tiles. */
  crop?: number;
  /** Epochs of linear learning-rate warm-up from lr / 10 (schedule.ts); 0 or absent: none. */
  warmupEpochs?: number;
  /** Asked after each epoch whether to go on (the study's time budget); absent: run all epochs. */
  keepGoing?: (record: LoopEpochRecord) => boolean;
}

export const COMMON_DEFAULTS = {
  epochs: 10,
  batch: 16,
  accum: 2,
  lr: 1e-3,
  weightDecay: 1e-4,
  gamma: 1,
  seed: 0,
  augment: true,
  resume: false,
  limit: 0,
  arch: 'rbd',
  verbose: true,
  skipBad: false,
} as const;

/**
 * The loader of a training run: shuffled per epoch, augmented per tile (paired across `mags`),
 * both seeded by the run's seed (data/loader.ts), `batch` tiles per micro-batch.
 */
export function trainingLoader(
  data: DataSource,
  refs: SampleRef[],
  mags: string[],
  o: Pick<CommonTrainOptions, 'batch' | 'seed' | 'augment' | 'crop'>,
  augmentSet?: number,
): Loader {
  return new Loader(data, refs, {
    mags,
    batchSize: o.batch,
    shuffle: true,
    seed: o.seed,
    augment: o.augment ? DEFAULT_AUGMENT : false,
    augmentSet: o.augment ? augmentSet : undefined,
    crop: mags.length === 1 ? (o.crop ?? 0) : 0,
  });
}

/** The labelled training samples, capped at `limit` (a seeded, class-interleaved subset). */
export function trainingSamples(data: DataSource, limit: number, seed: number): SampleRef[] {
  const all = data.samples('train');
  if (!limit || limit >= all.length) return all;
  return new Rng(hashSeed(seed, 0x11e7)).shuffle([...all]).slice(0, limit);
}

/** Open a run's data folder (warnings printed once, here). */
export function openTrainingData(o: Pick<CommonTrainOptions, 'data' | 'skipBad'>): Promise<DataSource> {
  return openDataSource(o.data, { skipBad: o.skipBad });
}

export function buildModel(arch: string, classes: number, seed: number, init?: string): ResNet {
  if (!init) return new ResNet(presetArch(arch, { numClasses: classes }), seed);
  const probe = loadCheckpoint(init);
  if (probe.model.arch.numClasses === classes) return probe.model;
  probe.model.dispose();
  return loadCheckpoint(init, { numClasses: classes }, { freshHead: true, seed }).model;
}

/** The architecture a run trains: the --init file's, else the preset's. */
export function runArch(arch: string, classes: number, init?: string): ResNetArch {
  if (!init) return presetArch(arch, { numClasses: classes });
  const st = readSafetensors(init);
  const renamed = methodNames(st.tensors.keys(), init);
  return {
    ...checkpointInfo(init, { metadata: st.metadata, tensors: new Map([...st.tensors].map(([k, v]) => [renamed.get(k)!, v])) }).arch,
    numClasses: classes,
  };
}

/** Adam with L2 weight decay added to the gradient (PyTorch Adam semantics, as the method). */
export function buildOptimizer(model: ResNet, o: CommonTrainOptions): Adam {
  return new Adam(model.parameters(), { lr: o.lr, weightDecay: o.weightDecay });
}

/** What the network actually received: recorded in every checkpoint, config and report. */
export interface ResolutionRecord {
  magnification: string;
  /** Input tile side in pixels, as fed to the network. */
  inputSize: number;
  micronsPerPixel: number;
  forwardGflops: number;
}

/**
 * The resolution a model trains or evaluates at. A tile stored at magnification m must have
 * (m / top) times the top tile's pixels per side; a larger one was upsampled back and would
 * cost the FLOPs of a higher magnification while carrying only m's information: refused
 * unless `allowUpsampled`.
 */
export function resolutionOf(data: DataSource, mag: string, arch: ResNetArch, allowUpsampled: boolean): ResolutionRecord {
  const level = data.level(mag);
  const top = data.topLevel();
  const honest = Math.floor((top.tile * level.value) / top.value);
  if (level.tile > honest && !allowUpsampled) {
    throw new Error(
      `images at ${mag} are ${level.tile} px, but a ${top.tile} px tile at ${top.name} is ${honest} px at ${mag}: they were upsampled, which costs the compute of a higher magnification and adds no detail. ` +
        'Use truly downsampled images (rbd synth, or area-downsample the top level), or pass --allow-upsampled to train on them anyway.',
    );
  }
  const flops = countFlops(arch, [level.tile, level.tile]);
  return {
    magnification: mag,
    inputSize: level.tile,
    micronsPerPixel: level.micronsPerPixel,
    forwardGflops: flops.total.forwardFlops / 1e9,
  };
}

/** Logits [N, C] of a model on tiles at one magnification (eval mode, no graph, batched, no augmentation). */
export async function predict(
  model: ResNet,
  data: DataSource,
  mag: string,
  samples: SampleRef[],
  batch: number,
): Promise<{ logits: Float32Array; refs: SampleRef[] }> {
  const classes = model.arch.numClasses;
  const parts: Float32Array[] = [];
  const refs: SampleRef[] = [];
  model.eval();
  try {
    for await (const b of new Loader(data, samples, { mags: [mag], batchSize: batch }).epoch(0)) {
      const view = b.views[0];
      const logits = noGrad(() => tidy(() => model.forward(Tensor.from(view.data, view.shape)).logits));
      parts.push((await logits.read()) as Float32Array);
      logits.dispose();
      refs.push(...b.refs);
    }
  } finally {
    model.train();
  }
  const out = new Float32Array(refs.length * classes);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { logits: out, refs };
}

/** Full metrics of a model on one split. */
export async function evaluateSplit(
  model: ResNet,
  data: DataSource,
  mag: string,
  split: SplitName,
  batch: number,
  opts: { resamples?: number; seed?: number } = {},
): Promise<ClassificationReport> {
  const { logits, refs } = await predict(model, data, mag, data.samples(split), batch);
  return classificationReport(
    logits,
    refs.map((s) => s.label),
    data.classes.length,
    opts,
  );
}

/** Validation accuracy (the metric that picks best.safetensors); no bootstrap. */
export async function validationAccuracy(
  model: ResNet,
  data: DataSource,
  mag: string,
  batch: number,
): Promise<{ metric: number; values: Record<string, number> }> {
  const r = await evaluateSplit(model, data, mag, 'val', batch, { resamples: 0 });
  return { metric: r.accuracy, values: { valAccuracy: r.accuracy, valLoss: r.loss, valMacroAuc: r.macroAuc } };
}

export function prepareRunDir(out: string, config: Record<string, unknown>) {
  mkdirSync(out, { recursive: true });
  writeJson(join(out, 'config.json'), config);
}

/** A progress bar over all images of all remaining epochs, with one line per finished epoch. */
export function trainingProgress(
  label: string,
  verbose: boolean,
  totalImages: number,
): { bar: Progress | null; onEpoch: (r: LoopEpochRecord) => void } {
  const bar = verbose ? progress({ label, total: totalImages, unit: 'images' }) : null;
  const onEpoch = (r: LoopEpochRecord) => {
    const parts = Object.entries(r.parts)
      .map(([k, v]) => `${k} ${v.toFixed(4)}`)
      .join(' ');
    const val = typeof r.valAccuracy === 'number' ? ` val acc ${(100 * r.valAccuracy).toFixed(1)}%` : '';
    bar?.note(
      `${label} epoch ${r.epoch + 1}: loss ${r.loss.toFixed(4)}${parts ? ` (${parts})` : ''}${val} lr ${r.lr.toExponential(2)} ${r.imagesPerSecond.toFixed(1)} img/s`,
    );
  };
  return { bar, onEpoch };
}
