/**
 * The training loop shared by `rbd teacher`, `rbd baseline` and `rbd distill`.
 *
 * - Epochs of micro-batches; the plan of each epoch (order, augmentation seeds) is a function of
 *   (seed, epoch) only, so a resumed run sees exactly the batches an uninterrupted one would.
 * - Gradient accumulation: `accum` micro-batches per optimizer step. Each micro-batch loss is a
 *   mean over its images; its gradient is weighted by (its images / the step's images), so one
 *   step follows the mean loss over all images of the step (the method's effective batch).
 * - Exponential LR decay per epoch: lr(epoch) = lr * gamma^epoch (PyTorch ExponentialLR stepped
 *   after each epoch).
 * - After every epoch: optional validation, atomic checkpoints (the caller's `saveEpoch`), then
 *   one JSONL log record (`log.jsonl`).
 * - `resume`: the caller's `loadResume` restores weights, optimizer state and the epoch; log
 *   records of later epochs are dropped, and the run continues with the next epoch.
 * - A NaN or infinite loss stops the run before the optimizer step that would apply its
 *   gradient, with a message naming the epoch and micro-batch; the checkpoint of the last
 *   finished epoch stays as it was.
 */
import { join } from 'node:path';
import { Tensor, tidy, disposeAll } from '../engine/tensor.ts';
import { backward } from '../engine/autograd.ts';
import { appendJsonl, filterJsonl } from '../util/files.ts';

/** What the loop needs of an optimizer (engine/optim's Adam and AdamW fit). */
export interface LoopOptimizer {
  lr: number;
  step(): void;
  zeroGrad(): void;
}

/** One micro-batch as planned, or as loaded: how many images it holds, plus whatever the task needs. */
export interface PlannedBatch {
  size: number;
}

/** The outputs of one forward pass: the loss to differentiate and named parts to log. */
export interface StepLosses {
  /** Scalar [1] (or []) mean loss over the micro-batch, with a graph to the parameters. */
  loss: Tensor;
  /** Components to log (e.g. soft, pixel), scalars without graphs. */
  parts?: Record<string, Tensor>;
}

export interface LoopEpochRecord {
  epoch: number;
  lr: number;
  loss: number;
  parts: Record<string, number>;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  steps: number;
  [key: string]: unknown;
}

export interface LoopCheckpointState {
  /** Last finished epoch (0-based). */
  epoch: number;
  /** Optimizer steps taken so far. */
  steps: number;
  bestMetric: number | null;
}

export interface TrainLoopSpec<B extends PlannedBatch, L extends PlannedBatch> {
  outDir: string;
  epochs: number;
  accum: number;
  lr: number;
  gamma: number;
  optimizer: LoopOptimizer;
  /** The learning rate at training time t in epochs (epoch + steps done / steps of the epoch), set before every step; absent: lr x gamma^epoch. */
  lrAt?(t: number): number;
  /** The micro-batches of one epoch; must depend only on the epoch (and fixed settings). */
  plan(epoch: number): B[];
  /**
   * Read and prepare one micro-batch (decode, augment: data/loader.ts); the loop keeps
   * `prefetch` micro-batches loading while the GPU works. A loaded batch may hold fewer images
   * than planned (unreadable ones skipped); one that holds none is left out.
   */
  load(batch: B, epoch: number, index: number): Promise<L>;
  /** Micro-batches loading ahead (default 2). */
  prefetch?: number;
  /** Forward pass of one loaded micro-batch (called synchronously inside tidy()). */
  forward(loaded: L, batch: B): StepLosses;
  /** Validation after an epoch: numbers to log; `metric` (higher is better) selects best.safetensors. */
  validate?(epoch: number): Promise<{ metric: number; values: Record<string, number> }>;
  /**
   * After each epoch: write the checkpoints atomically (weights, optimizer state, `state`);
   * `improved` when validation beat every earlier epoch. Returns the path a resume would read.
   */
  saveEpoch(state: LoopCheckpointState, improved: boolean): Promise<string>;
  /** With resume: load the last checkpoint into the live model and optimizer; null when there is none. */
  loadResume(): Promise<{ state: LoopCheckpointState; path: string } | null>;
  resume?: boolean;
  /** Called after each micro-batch (progress bars). */
  onBatch?(info: { epoch: number; batch: number; batches: number; images: number; loss: number; imagesPerSecond: number }): void;
  /** Called after each epoch with its log record. */
  onEpoch?(record: LoopEpochRecord): void;
  /** After each epoch (checkpoints written): false ends the run before `epochs` (a time budget). */
  keepGoing?(record: LoopEpochRecord): boolean;
}

/** A NaN/Inf loss: the run stopped, the last good checkpoint is kept. */
export class DivergedError extends Error {
  constructor(
    readonly epoch: number,
    readonly batch: number,
    readonly value: number,
    checkpoint: string | null,
  ) {
    super(
      `loss became ${value} at epoch ${epoch + 1}, micro-batch ${batch + 1}; training stopped before this gradient was applied. ` +
        (checkpoint ? `The last good checkpoint is kept at ${checkpoint}. ` : 'No epoch had finished, so there is no checkpoint. ') +
        'Remedy: lower --lr, or check the data for broken images.',
    );
    this.name = 'DivergedError';
  }
}

/** Run (or resume) the loop; returns the log records of every epoch run now. */
export async function trainLoop<B extends PlannedBatch, L extends PlannedBatch>(
  spec: TrainLoopSpec<B, L>,
): Promise<{ records: LoopEpochRecord[]; state: LoopCheckpointState }> {
  const logPath = join(spec.outDir, 'log.jsonl');
  let state: LoopCheckpointState = { epoch: -1, steps: 0, bestMetric: null };
  let lastGood: string | null = null;
  const resumed = spec.resume ? await spec.loadResume() : null;
  // Starting over would empty this run's log: resuming a run that is not there is an error.
  if (spec.resume && !resumed)
    throw new Error(
      `${spec.outDir} holds no run to resume (no resume checkpoint); start a new run without resume, or resume from the run's folder`,
    );
  if (resumed) {
    state = resumed.state;
    lastGood = resumed.path;
    filterJsonl<LoopEpochRecord>(logPath, (r) => r.epoch <= state.epoch);
  } else {
    filterJsonl<LoopEpochRecord>(logPath, () => false);
  }
  const records: LoopEpochRecord[] = [];
  for (let epoch = state.epoch + 1; epoch < spec.epochs; epoch++) {
    const lr = spec.lrAt ? spec.lrAt(epoch) : spec.lr * Math.pow(spec.gamma, epoch);
    spec.optimizer.lr = lr;
    const batches = spec.plan(epoch);
    const start = performance.now();
    let images = 0,
      lossSum = 0,
      steps = 0;
    const partSums: Record<string, number> = {};
    spec.optimizer.zeroGrad();
    // `prefetch` batches ahead; each marked handled so a failure surfaces where it is awaited, not as an unhandled rejection.
    const ahead = Math.max(spec.prefetch ?? 2, 1);
    const loading: Promise<L>[] = [];
    let requested = 0;
    const fill = () => {
      while (requested < batches.length && loading.length < ahead) {
        const p = spec.load(batches[requested], epoch, requested);
        p.catch(() => undefined);
        loading.push(p);
        requested++;
      }
    };
    fill();
    for (let g = 0; g < batches.length; g += spec.accum) {
      const planned = batches.slice(g, g + spec.accum);
      const loaded: L[] = [];
      for (let k = 0; k < planned.length; k++) {
        loaded.push(await loading.shift()!);
        fill();
      }
      const group = planned.map((b, k) => ({ batch: b, loaded: loaded[k], index: g + k })).filter((x) => x.loaded.size > 0);
      if (group.length === 0) continue;
      const groupImages = group.reduce((s, x) => s + x.loaded.size, 0);
      // Forward and backward of every micro-batch of the step are recorded without waiting for
      // the GPU; the loss values are read once, before the step, so the GPU never idles on a
      // round trip per micro-batch and a NaN is still caught before it reaches the weights.
      const outs: StepLosses[] = [];
      try {
        for (const x of group) {
          const out = tidy(() => spec.forward(x.loaded, x.batch));
          outs.push(out);
          // d(step loss)/d(micro loss) = its share of the step's images.
          const weight = Tensor.full(out.loss.shape, x.loaded.size / groupImages);
          backward(out.loss, weight);
          weight.dispose();
        }
        for (let k = 0; k < group.length; k++) {
          const size = group[k].loaded.size;
          const value = await outs[k].loss.item();
          if (!Number.isFinite(value)) {
            spec.optimizer.zeroGrad();
            throw new DivergedError(epoch, group[k].index, value, lastGood);
          }
          for (const [name, t] of Object.entries(outs[k].parts ?? {})) partSums[name] = (partSums[name] ?? 0) + (await t.item()) * size;
          lossSum += value * size;
          images += size;
          spec.onBatch?.({
            epoch,
            batch: group[k].index,
            batches: batches.length,
            images,
            loss: value,
            imagesPerSecond: images / ((performance.now() - start) / 1000),
          });
        }
      } finally {
        for (const o of outs) disposeAll(o);
      }
      if (spec.lrAt) spec.optimizer.lr = spec.lrAt(epoch + g / batches.length);
      spec.optimizer.step();
      spec.optimizer.zeroGrad();
      steps++;
    }
    const seconds = (performance.now() - start) / 1000;
    const parts: Record<string, number> = {};
    for (const [name, s] of Object.entries(partSums)) parts[name] = s / images;
    const record: LoopEpochRecord = {
      epoch,
      lr,
      loss: lossSum / images,
      parts,
      images,
      seconds,
      imagesPerSecond: images / seconds,
      steps: state.steps + steps,
    };
    let improved = false;
    let bestMetric = state.bestMetric;
    if (spec.validate) {
      const v = await spec.validate(epoch);
      Object.assign(record, v.values);
      improved = bestMetric === null || v.metric > bestMetric;
      if (improved) bestMetric = v.metric;
    }
    state = { epoch, steps: state.steps + steps, bestMetric };
    lastGood = await spec.saveEpoch(state, improved);
    appendJsonl(logPath, record);
    records.push(record);
    spec.onEpoch?.(record);
    if (spec.keepGoing && !spec.keepGoing(record)) break;
  }
  return { records, state };
}
