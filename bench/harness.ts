/**
 * Timing and printing helpers shared by the benchmarks (bench/*.ts).
 *
 * - `timeGpu(run, reps, warmup)`: runs `run` warmup times, then `reps` times, each time waiting
 *   until the GPU has really finished (`runtime().sync()`) before the clock stops; returns the
 *   median and all samples in milliseconds. `run` records GPU work; whatever tensors it returns
 *   are disposed after the sync. It also returns the median CPU time of this process per run:
 *   on a software adapter (lavapipe) the GPU is this process's own threads, so CPU time measures
 *   the kernel's cost even while other processes compete for the cores (wall time does not).
 * - `BenchRow`, `printTable(rows, notes)`: the kernel, shape, ms, GFLOP/s, GB/s, GFLOP/cpu-s table.
 */
import { platform } from '#platform';
import { runtime } from '../engine/runtime.ts';
import { disposeAll, tidy } from '../engine/tensor.ts';
import { textTable, numericColumns } from '../util/table.ts';

export interface Timing {
  /** Median of the timed repetitions, milliseconds. */
  ms: number;
  samples: number[];
  /** Median CPU time of this process (all threads) per run, milliseconds; NaN where the platform cannot read it (a browser). */
  cpuMs: number;
}

/** One timed run: [wall ms, CPU ms of this process], the GPU idle before and finished after. */
async function timeOnce(run: () => unknown): Promise<[number, number]> {
  const rt = runtime();
  await rt.sync();
  const cpu0 = platform.cpuTimeMs();
  const t0 = performance.now();
  const out = tidy(run);
  await rt.sync();
  const ms = performance.now() - t0;
  const cpu1 = platform.cpuTimeMs();
  disposeAll(out);
  // A browser cannot read its CPU time: NaN (null in JSON), never a made-up figure.
  return [ms, cpu0 === null || cpu1 === null ? NaN : cpu1 - cpu0];
}

function timingOf(samples: number[], cpu: number[]): Timing {
  return { ms: median(samples), samples, cpuMs: median(cpu) };
}

export async function timeGpu(run: () => unknown, reps: number, warmup = 2): Promise<Timing> {
  return (await timeGpuRoundRobin([run], reps, warmup))[0];
}

/**
 * Time several runs with their repetitions interleaved (rep 1 of every run, then rep 2, ...), so
 * that a slow spell of a shared machine (other load, a noisy neighbour) spreads over all of them
 * instead of landing on one run's repetitions. Each run is warmed up first.
 */
export async function timeGpuRoundRobin(runs: (() => unknown)[], reps: number, warmup = 2): Promise<Timing[]> {
  for (const run of runs) for (let i = 0; i < warmup; i++) await timeOnce(run);
  const samples = runs.map(() => [] as number[]);
  const cpu = runs.map(() => [] as number[]);
  for (let i = 0; i < reps; i++) {
    for (const [j, run] of runs.entries()) {
      const [ms, cpuMs] = await timeOnce(run);
      samples[j].push(ms);
      cpu[j].push(cpuMs);
    }
  }
  return runs.map((_, j) => timingOf(samples[j], cpu[j]));
}

/** Repetitions recorded back to back and waited for once (timeGpuOneSubmission). */
export interface OneSubmissionTiming {
  /** Wall milliseconds per repetition: the whole stretch / reps. */
  ms: number;
  reps: number;
  /** Queue submissions the repetitions took (1 unless they filled a batch: engine/runtime.ts BATCH_LIMIT). */
  submits: number;
}

/**
 * Time `reps` runs recorded back to back with no wait between them and submitted together, then
 * waited for once (after `warmup` runs, each waited for): ms per run = the whole stretch / reps.
 * timeGpu waits for every run, so each of its samples also pays the submit-to-finish latency
 * and leaves the GPU idle while the host records the next run; this is what the GPU sustains
 * when the host keeps it fed. The runtime submits early only when a batch fills (`submits` says).
 */
export async function timeGpuOneSubmission(run: () => unknown, reps: number, warmup = 1): Promise<OneSubmissionTiming> {
  for (let i = 0; i < warmup; i++) await timeOnce(run);
  const rt = runtime();
  await rt.sync();
  const submits0 = rt.submits;
  const t0 = performance.now();
  const outs: unknown[] = [];
  for (let i = 0; i < reps; i++) outs.push(tidy(run));
  await rt.sync();
  const ms = (performance.now() - t0) / reps;
  for (const o of outs) disposeAll(o);
  return { ms, reps, submits: rt.submits - submits0 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface BenchRow {
  kernel: string;
  shape: string;
  /** Median milliseconds per call. */
  ms: number;
  /** Fastest call (milliseconds) and its rate: what the kernel does when the machine is quiet. */
  bestMs: number;
  bestGflops: number;
  /** FLOPs per call as counted by the benchmark (2 per multiply-add). */
  flops: number;
  gflops: number;
  /** Median CPU milliseconds of this process per call, and FLOPs per CPU-second (see timeGpu). */
  cpuMs: number;
  cpuGflops: number;
  /** Bytes per call: each input read once and each output written once (a lower bound). */
  bytes: number;
  gbps: number;
  reps: number;
  /**
   * Where measured (bench kernels): ms per run with the repetitions in one submission and one
   * wait (timeGpuOneSubmission), its GFLOP/s, and the submissions it took.
   */
  oneSubmissionMs?: number;
  oneSubmissionGflops?: number;
  oneSubmissionSubmits?: number;
}

export function row(kernel: string, shape: string, timing: Timing, flops: number, bytes: number): BenchRow {
  const s = timing.ms / 1000;
  return {
    kernel,
    shape,
    ms: timing.ms,
    bestMs: Math.min(...timing.samples),
    bestGflops: flops / Math.min(...timing.samples) / 1e6,
    flops,
    gflops: flops / s / 1e9,
    cpuMs: timing.cpuMs,
    cpuGflops: flops / (timing.cpuMs / 1000) / 1e9,
    bytes,
    gbps: bytes / s / 1e9,
    reps: timing.samples.length,
  };
}

export function printTable(rows: BenchRow[], notes: string[] = []) {
  const cells = rows.map((r) => [
    r.kernel,
    r.shape,
    r.ms.toFixed(2),
    r.gflops.toFixed(2),
    r.bestGflops.toFixed(2),
    r.gbps.toFixed(2),
    r.cpuGflops.toFixed(2),
  ]);
  const head = ['kernel', 'shape', 'ms', 'GFLOP/s', 'best GFLOP/s', 'GB/s', 'GFLOP/cpu-s'];
  console.log(textTable(head, cells, numericColumns(head.length, 2)));
  for (const n of notes) console.log(n);
}

/** A one-line status (stderr in Node, overwritten in place on a terminal; the page's status line in a browser; '' clears it). */
export function progress(text: string) {
  platform.progress(text);
}
