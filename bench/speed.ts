/**
 * rbd bench speed: measured inference and distillation-training throughput per magnification,
 * against the adapter's roofline measured in the same run.
 *
 * Per magnification (a tile of `tile` px at the top magnification is tile/f px at f times lower):
 *   inference   student forward under noGrad on a batch [N,3,s,s]
 *   train step  the distillation step (bench/profile.ts distillPhases): teacher forward at the top
 *               magnification under noGrad, student forward, distillation loss (KL + pixel,
 *               train/distill_loss.ts), backward, Adam step (lr 1e-3, weight decay 1e-4).
 *               Inputs are fixed random tensors already on the GPU: data loading is not timed.
 * Each is run `warmup` times untimed, then `reps` times, each timed until the GPU has finished
 * (bench/harness.ts timeGpu), round-robin over the magnifications (see measureSpeed); the
 * median is reported with the min and max as the spread.
 * achievedGflops = train-step FLOPs (bench/flops.ts, from the layer shapes) * N / median time;
 * rooflineFraction = achievedGflops / the best GEMM rate of the engine's own kernels, measured
 * before and after the model in the same run (bench/roofline.ts; the better of the two).
 * Other processes share the CPU: compare ratios within a run.
 */
import { tidy, disposeAll } from '../engine/tensor.ts';
import { runtime } from '../engine/runtime.ts';
import { LimitError } from '../engine/errors.ts';
import { noGrad } from '../engine/autograd.ts';
import type { ResNetArch } from '../models/arch.ts';
import { DEFAULT_AUGMENT } from '../data/augment.ts';
import { Loader, measureLoader, openDataSource } from '../data/loader.ts';
import { DataError } from '../data/errors.ts';
import { timeGpu, median, progress, type Timing } from './harness.ts';
import { benchMeta, adapterLine } from './meta.ts';
import { flopsRows, type MagInput, type FlopsRow } from './flops.ts';
import { measureRoofline, bestRoofline, gemmCandidates, measureDispatchOverhead, type Roofline } from './roofline.ts';
import { textTable, numericColumns, fmtNum, fmtPercent } from '../util/table.ts';
import { nominalPeakLine } from './device_peaks.ts';
import { distillSetup, distillPhases, cacheTeacherOutputs } from './profile.ts';

export interface Spread {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function spreadOf(t: Timing): Spread {
  return { median: t.ms, min: Math.min(...t.samples), max: Math.max(...t.samples), samples: t.samples };
}

/** Single-run timings as one: median wall and CPU time over the runs, every wall sample kept. */
function pooled(runs: Timing[]): Timing {
  return { ms: median(runs.map((r) => r.ms)), samples: runs.map((r) => r.ms), cpuMs: median(runs.map((r) => r.cpuMs)) };
}

function spreadOfSamples(samples: number[]): Spread {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}

/**
 * The top magnification's training step against the roofline's best GEMM, interleaved: each
 * round times the GEMM (repeated to last about as long as one step) and one step back to back
 * (after `warmup` untimed rounds), so both see the same load from other processes. Per round: (step GFLOP/s) / (GEMM GFLOP/s), wall clock
 * and per CPU-second; the median over rounds is the robust form of `rooflineFraction`.
 */
export async function pairedRooflineFraction(
  o: SpeedOptions,
  gemmShape: string,
  gemmSizes: number[],
): Promise<{ gemm: string; gemmRepeats: number; wall: Spread; cpu: Spread }> {
  const candidates = gemmCandidates(gemmSizes, o.seed);
  const best = candidates.find((c) => `${c.kernel} ${c.shape}` === gemmShape);
  if (!best) throw new Error(`pairedRooflineFraction: no GEMM candidate '${gemmShape}'`);
  const top = o.inputs[0];
  const d = distillSetup(o.arch, top, top, o.batch, o.seed);
  const stepFlops = flopsRows(o.arch, [top])[0].trainStepFlops * o.batch;
  const step = () => {
    for (const [, run] of distillPhases(d)) run();
  };
  const wall: number[] = [];
  const cpu: number[] = [];
  // The GEMM's share of a round is repeated to last about as long as the step (fitted in the
  // warm-up rounds): a single short GEMM right after a long step is timed with its start-up
  // (first dispatches, caches) and under whatever load happened to be there in its few ms.
  let repeats = 1;
  const gemmRepeated = () => {
    for (let r = 0; r < repeats; r++) disposeAll(tidy(best.run));
  };
  try {
    for (let i = 0; i < o.warmup + o.reps; i++) {
      progress(`${top.mag}: step and GEMM interleaved, round ${i + 1} of ${o.warmup + o.reps}`);
      const g = await timeGpu(gemmRepeated, 1, 0);
      const t = await timeGpu(step, 1, 0);
      const gemmFlops = best.flops * repeats;
      if (i < o.warmup) {
        repeats = Math.max(1, Math.round(t.ms / (g.ms / repeats)));
        continue;
      }
      wall.push(stepFlops / t.ms / (gemmFlops / g.ms));
      cpu.push(stepFlops / t.cpuMs / (gemmFlops / g.cpuMs));
    }
  } finally {
    progress('');
    d.dispose();
    for (const c of candidates) c.dispose();
  }
  return { gemm: gemmShape, gemmRepeats: repeats, wall: spreadOfSamples(wall), cpu: spreadOfSamples(cpu) };
}

export interface SpeedRow extends Pick<FlopsRow, 'mag' | 'inputSize' | 'inputPx' | 'forwardGflops' | 'trainStepGflops'> {
  batch: number;
  inferImagesPerSec: number;
  trainImagesPerSec: number;
  /** The same step with the teacher's outputs uploaded from a teacher-target cache instead of computed. */
  trainCachedImagesPerSec: number;
  trainCachedMs: Spread;
  /** Training step FLOP rate: trainStepGflops * batch / median step time. */
  achievedGflops: number;
  /** achievedGflops / roofline GEMM rate. */
  rooflineFraction: number;
  inferAchievedGflops: number;
  /** Median, min and max milliseconds per batch. */
  inferMs: Spread;
  trainMs: Spread;
  /**
   * Median CPU milliseconds of this process per batch (harness timeGpu). On a software adapter
   * the GPU is this process's threads, so CPU time is the cost that other processes competing
   * for the cores do not inflate; the *PerCpuSec rates use it.
   */
  inferCpuMs: number;
  trainCpuMs: number;
  achievedGflopsPerCpuSec: number;
  /** achievedGflopsPerCpuSec / the roofline GEMM's GFLOP per CPU-second. */
  rooflineFractionCpu: number;
  /** Loader images/s for this magnification's views (bench speed --data), or null. */
  loaderImagesPerSec: number | null;
  /** Dispatches (kernel launches) in one training step and in one inference pass. */
  trainDispatches: number;
  inferDispatches: number;
  /** Host wall time to record one dispatch of the training step / inference pass, microseconds (dispatchesOf). */
  trainRecordUsPerDispatch: number;
  inferRecordUsPerDispatch: number;
  /** Train-step time at the top magnification / here, and the FLOP ratio the same way. */
  trainSpeedup: number;
  trainFlopRatio: number;
  inferSpeedup: number;
  inferFlopRatio: number;
}

export interface SpeedOptions {
  arch: ResNetArch;
  inputs: MagInput[];
  batch: number;
  reps: number;
  warmup: number;
  seed: number;
}

/**
 * Count the dispatches `fn` records (it runs once, GPU work and all), and the wall time of
 * recording them: the synchronous part of `fn` (ops, pool, bind groups, uniforms, encoding,
 * the submits of full batches), which is the host's CPU cost per dispatch on any platform
 * (a browser cannot read its CPU time; Node's CPU time on a software adapter includes the GPU's).
 */
async function dispatchesOf(fn: () => unknown): Promise<{ dispatches: number; recordUsPerDispatch: number }> {
  const rt = runtime();
  await rt.sync();
  const before = rt.dispatches;
  const t0 = performance.now();
  disposeAll(tidy(fn));
  const recordMs = performance.now() - t0;
  await rt.sync();
  const dispatches = rt.dispatches - before;
  return { dispatches, recordUsPerDispatch: (1000 * recordMs) / Math.max(dispatches, 1) };
}

/** A magnification (or roofline case) left out, and why (a limit of this device it would exceed). */
export interface SkippedCase {
  mag: string;
  reason: string;
}

/** A speed row before it is set against the roofline. */
export type MeasuredRow = Omit<SpeedRow, 'rooflineFraction' | 'rooflineFractionCpu'>;

/**
 * Time inference and the training step at every magnification; `loaderImagesPerSec` (per
 * magnification) is copied in. `withRoofline` then divides the rates by the ceilings.
 */
export async function measureSpeed(
  o: SpeedOptions,
  loaderImagesPerSec: (number | null)[] | null = null,
  skipped: SkippedCase[] = [],
): Promise<MeasuredRow[]> {
  const flops = flopsRows(o.arch, o.inputs);
  // Every magnification is set up at once and the timed runs go round-robin (each round times
  // every magnification once), so a change of load from other processes during the benchmark
  // hits all magnifications alike and the ratios between them stay meaningful.
  const cases: {
    m: MagInput;
    d: ReturnType<typeof distillSetup>;
    infer: () => unknown;
    step: () => void;
    cachedStep: () => void;
    inferRuns: Timing[];
    stepRuns: Timing[];
    cachedRuns: Timing[];
    skip: string | null;
  }[] = [];
  for (const m of o.inputs) {
    let d: ReturnType<typeof distillSetup>;
    let cached: Awaited<ReturnType<typeof cacheTeacherOutputs>>;
    try {
      d = distillSetup(o.arch, o.inputs[0], m, o.batch, o.seed);
    } catch (e) {
      // Weights or inputs larger than this device allows: leave the magnification out, say why.
      if (!(e instanceof LimitError)) throw e;
      skipped.push({ mag: m.mag, reason: e.message });
      continue;
    }
    try {
      cached = await cacheTeacherOutputs(d);
    } catch (e) {
      d.dispose();
      if (!(e instanceof LimitError)) throw e;
      skipped.push({ mag: m.mag, reason: e.message });
      continue;
    }
    const infer = () => noGrad(() => d.student.forward(d.lowRes));
    const step = () => {
      for (const [, run] of distillPhases(d)) run();
    };
    const cachedStep = () => {
      for (const [, run] of distillPhases(d, cached)) run();
    };
    cases.push({ m, d, infer, step, cachedStep, inferRuns: [], stepRuns: [], cachedRuns: [], skip: null });
  }
  const out: Omit<MeasuredRow, 'trainSpeedup' | 'trainFlopRatio' | 'inferSpeedup' | 'inferFlopRatio'>[] = [];
  try {
    for (let round = 0; round < o.warmup + o.reps; round++) {
      for (const c of cases) {
        if (c.skip) continue;
        progress(
          `${c.m.mag}: inference and training step, ${round < o.warmup ? `warm-up ${round + 1} of ${o.warmup}` : `round ${round - o.warmup + 1} of ${o.reps}`}`,
        );
        let ti: Timing, tt: Timing, tc: Timing;
        try {
          ti = await timeGpu(c.infer, 1, 0);
          tt = await timeGpu(c.step, 1, 0);
          tc = await timeGpu(c.cachedStep, 1, 0);
        } catch (e) {
          // A device smaller than this case needs: leave the magnification out, say why.
          if (!(e instanceof LimitError)) throw e;
          c.skip = e.message;
          skipped.push({ mag: c.m.mag, reason: e.message });
          continue;
        }
        if (round < o.warmup) continue;
        c.inferRuns.push(ti);
        c.stepRuns.push(tt);
        c.cachedRuns.push(tc);
      }
    }
    for (const c of cases) {
      if (c.skip) continue;
      const i = o.inputs.indexOf(c.m);
      const ti = pooled(c.inferRuns),
        tt = pooled(c.stepRuns),
        tc = pooled(c.cachedRuns);
      const inferCount = await dispatchesOf(c.infer);
      const trainCount = await dispatchesOf(c.step);
      const inferDispatches = inferCount.dispatches,
        trainDispatches = trainCount.dispatches;
      const f = flops[i];
      const achievedGflops = (f.trainStepGflops * o.batch) / (tt.ms / 1000);
      const achievedGflopsPerCpuSec = (f.trainStepGflops * o.batch) / (tt.cpuMs / 1000);
      out.push({
        mag: c.m.mag,
        inputSize: c.m.size,
        inputPx: f.inputPx,
        forwardGflops: f.forwardGflops,
        trainStepGflops: f.trainStepGflops,
        batch: o.batch,
        inferImagesPerSec: o.batch / (ti.ms / 1000),
        trainImagesPerSec: o.batch / (tt.ms / 1000),
        trainCachedImagesPerSec: o.batch / (tc.ms / 1000),
        trainCachedMs: spreadOf(tc),
        achievedGflops,
        inferAchievedGflops: (f.forwardGflops * o.batch) / (ti.ms / 1000),
        inferMs: spreadOf(ti),
        trainMs: spreadOf(tt),
        trainDispatches,
        inferDispatches,
        trainRecordUsPerDispatch: trainCount.recordUsPerDispatch,
        inferRecordUsPerDispatch: inferCount.recordUsPerDispatch,
        inferCpuMs: ti.cpuMs,
        trainCpuMs: tt.cpuMs,
        achievedGflopsPerCpuSec,
        loaderImagesPerSec: loaderImagesPerSec ? loaderImagesPerSec[i] : null,
      });
    }
  } finally {
    for (const c of cases) c.d.dispose();
  }
  progress('');
  const top = out[0];
  if (!top) return [];
  return out.map((r) => ({
    ...r,
    trainSpeedup: top.trainMs.median / r.trainMs.median,
    trainFlopRatio: top.trainStepGflops / r.trainStepGflops,
    inferSpeedup: top.inferMs.median / r.inferMs.median,
    inferFlopRatio: top.forwardGflops / r.forwardGflops,
  }));
}

/** The rows as fractions of the roofline: wall-clock rates, and rates per CPU-second. */
export function withRoofline(rows: MeasuredRow[], r: Pick<Roofline, 'gemmGflops' | 'gemmCpuGflops'>): SpeedRow[] {
  return rows.map((x) => ({
    ...x,
    rooflineFraction: x.achievedGflops / r.gemmGflops,
    rooflineFractionCpu: x.achievedGflopsPerCpuSec / r.gemmCpuGflops,
  }));
}

export function formatSpeedRows(rows: SpeedRow[]): string {
  const head = [
    'mag',
    'input',
    'infer img/s',
    'infer ms (min-max)',
    'train img/s',
    'train ms (min-max)',
    'cached-teacher img/s',
    'train GFLOP/s',
    'of roofline',
    'of roofline (CPU s)',
    'speed-up',
    'FLOP ratio',
    'dispatches',
  ];
  const range = (s: Spread) => `${fmtNum(s.median)} (${fmtNum(s.min)}-${fmtNum(s.max)})`;
  const cells = rows.map((r) => [
    r.mag,
    `${r.inputSize[0]}x${r.inputSize[1]}`,
    fmtNum(r.inferImagesPerSec),
    range(r.inferMs),
    fmtNum(r.trainImagesPerSec),
    range(r.trainMs),
    fmtNum(r.trainCachedImagesPerSec),
    fmtNum(r.achievedGflops),
    fmtPercent(r.rooflineFraction),
    fmtPercent(r.rooflineFractionCpu),
    `${fmtNum(r.trainSpeedup)}x`,
    `${fmtNum(r.trainFlopRatio)}x`,
    String(r.trainDispatches),
  ]);
  return textTable(head, cells, numericColumns(head.length, 2));
}

/**
 * Tiles per batch by default: the study trains with batch 16; 8 keeps the step representative
 * (at batch 2 the 10x step spent ~44% of the roofline against ~53% at batch 8, lavapipe, same
 * build: smaller grids, and the ~0.1 ms fixed cost of each of ~250 dispatches weighs more) while
 * a whole run at the five magnifications stays within a few minutes on a 2-core CPU adapter.
 */
export const DEFAULT_BATCH = 8;

export interface SpeedRunOptions extends SpeedOptions {
  archName: string;
  tile: number;
  gemmSizes: number[];
  /** A dataset folder: also measure the loader's images/s for each (teacher, student) pair. */
  data?: string;
  /** Batches the loader runs per magnification (default 8). */
  loaderBatches?: number;
  /** Skip unreadable images in `data` instead of failing. */
  skipBad?: boolean;
}

/**
 * Loader throughput (data/loader.ts measureLoader): decode + paired augmentation + normalization
 * of [teacher, student] views from `dir`'s train split, no GPU work, per student magnification.
 * Null for a magnification the dataset cannot provide.
 */
async function measureLoaderRates(
  dir: string,
  inputs: MagInput[],
  batch: number,
  batches: number,
  seed: number,
  skipBad: boolean,
): Promise<(number | null)[]> {
  const source = await openDataSource(dir, { skipBad, cacheBytes: 0 });
  const train = source.samples('train');
  const out: (number | null)[] = [];
  for (const m of inputs) {
    progress(`${m.mag}: loader (${batches} batches of ${batch})`);
    try {
      // The training path (train/common.ts trainingLoader): shuffled, paired augmentation; no
      // decoded-image cache, so every batch pays its decoding as a first epoch does.
      const mags = m.mag === inputs[0].mag ? [m.mag] : [inputs[0].mag, m.mag];
      const r = await measureLoader(
        new Loader(source, train, { mags, batchSize: batch, shuffle: true, seed, augment: DEFAULT_AUGMENT }),
        batches,
      );
      out.push(r.imagesPerSecond);
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      out.push(null);
    }
  }
  progress('');
  return out;
}

/**
 * Measure the roofline, then every magnification, on the open runtime; return the JSON that
 * `--json` writes (self-describing: bench/meta.ts) with `adapter`, `rooflineGflops` and `results`.
 */
export async function speedRun(o: SpeedRunOptions, log: (line: string) => void = () => {}) {
  const rt = runtime();
  const meta = benchMeta(rt, 'bench speed', { weights: o.seed, inputs: o.seed });
  log(
    `adapter: ${adapterLine(meta.adapter!)}; arch ${o.archName}; tile ${o.tile}px at ${o.inputs[0].mag}; batch ${o.batch}; ${o.reps} reps after ${o.warmup} warm-up`,
  );
  const rooflineOptions = { gemmSizes: o.gemmSizes, reps: o.reps, warmup: o.warmup, seed: o.seed };
  const before = await measureRoofline(rooflineOptions);
  log(`roofline (before): GEMM ${fmtNum(before.gemmGflops)} GFLOP/s (best: ${before.gemmShape}), copy ${fmtNum(before.copyGBps)} GB/s`);
  const overhead = await measureDispatchOverhead(o.reps, o.warmup);
  log(`dispatch overhead: ${fmtNum(overhead.usPerDispatch)} us per dispatch (chain of trivial kernels)`);
  const loader = o.data ? await measureLoaderRates(o.data, o.inputs, o.batch, o.loaderBatches ?? 8, o.seed, o.skipBad ?? false) : null;
  const skipped: SkippedCase[] = [];
  const measured = await measureSpeed(o, loader, skipped);
  for (const s of skipped) log(`${s.mag}: skipped: ${s.reason}`);
  // Measured again after the model: the ceilings are the best rates seen in this run, so a
  // burst of load from other processes during one measurement does not lower them.
  const after = await measureRoofline(rooflineOptions);
  log(`roofline (after): GEMM ${fmtNum(after.gemmGflops)} GFLOP/s (best: ${after.gemmShape}), copy ${fmtNum(after.copyGBps)} GB/s`);
  const roofline = bestRoofline(before, after);
  log(
    `roofline (the engine's own best measured rates, not the device's peak): GEMM ${fmtNum(roofline.gemmGflops)} GFLOP/s (${fmtNum(roofline.gemmCpuGflops)} per CPU-second), copy ${fmtNum(roofline.copyGBps)} GB/s, ridge ${fmtNum(roofline.ridgeFlopsPerByte)} FLOP/byte`,
  );
  log(nominalPeakLine(runtime().gpu.adapter.name, roofline.gemmGflops));
  const rows = withRoofline(measured, roofline);
  // The top magnification's step, if this device could run it.
  const paired = measured.some((r) => r.mag === o.inputs[0].mag)
    ? await pairedRooflineFraction(o, roofline.gemmShape, o.gemmSizes)
    : undefined;
  if (paired)
    log(
      `${o.inputs[0].mag} step vs ${paired.gemm} (x${paired.gemmRepeats} per round), interleaved (${o.reps} rounds): ${fmtPercent(paired.wall.median)} of its rate (min ${fmtPercent(paired.wall.min)}, max ${fmtPercent(paired.wall.max)}); per CPU-second ${fmtPercent(paired.cpu.median)}`,
    );
  return {
    ...meta,
    arch: { preset: o.archName, ...o.arch },
    tile: o.tile,
    batch: o.batch,
    reps: o.reps,
    warmup: o.warmup,
    rooflineGflops: roofline.gemmGflops,
    rooflineCpuGflops: roofline.gemmCpuGflops,
    rooflineCopyGBps: roofline.copyGBps,
    roofline,
    rooflineMeasurements: [before, after],
    pairedRooflineFraction: paired,
    dispatchOverheadUs: overhead.usPerDispatch,
    data: o.data ?? null,
    results: rows,
    skipped,
  };
}
