/**
 * The adapter's roofline, as this engine sees it: the best GEMM rate the engine's own matmul
 * kernel reaches (compute ceiling, GFLOP/s) and the buffer-to-buffer copy bandwidth (memory
 * ceiling, GB/s). These are measured rates of our kernels, not the device's peak; where the
 * adapter is a known device, its nominal f32 peak is printed beside them (bench/device_peaks.ts). Every benchmark figure can then be read as a fraction of what this adapter
 * can do with these kernels; the same run measures both, so the fraction is not skewed by
 * other work on the machine changing between runs.
 *
 * GEMM: square matmuls and a 3x3 conv layer (gemmCandidates); the ceiling is the best median
 * rate among them. Copy: `copyBufferToBuffer` of one buffer into another; bytes moved = 2 x size
 * (each byte read once and written once), the same convention as the kernels' GB/s.
 * Memory-bound kernels (norm, ReLU, pooling, residual add) are timed on the network's real
 * activation shapes and reported in GB/s against the copy bandwidth: they do a few FLOPs per
 * byte, so bandwidth, not the GEMM rate, is their ceiling.
 */
import { Tensor, shapeSize, disposeAll } from '../engine/tensor.ts';
import { Rng } from '../engine/random.ts';
import { runtime } from '../engine/runtime.ts';
import { gemm } from '../engine/ops/matmul.ts';
import { conv2d } from '../engine/ops/conv2d.ts';
import { groupNorm } from '../engine/ops/group_norm.ts';
import { groupNormRelu } from '../engine/ops/group_norm_act.ts';
import { relu } from '../engine/ops/relu.ts';
import { add } from '../engine/ops/add.ts';
import { maxPool2d } from '../engine/ops/max_pool2d.ts';
import { adaptiveAvgPool2d } from '../engine/ops/adaptive_avg_pool2d.ts';
import { countFlops } from '../models/flops.ts';
import type { ResNetArch } from '../models/arch.ts';
import { textTable, numericColumns, fmtNum, fmtPercent } from '../util/table.ts';
import { LimitError } from '../engine/errors.ts';
import { timeGpu, timeGpuRoundRobin, row, progress, type BenchRow, type Timing } from './harness.ts';
import { nominalPeakLine } from './device_peaks.ts';

export const DEFAULT_GEMM_SIZES = [512, 1024];
/** The conv layer tried as a GEMM candidate: 64 channels, 64x64 map, batch 2. */
export const ROOFLINE_CONV_INPUT = [2, 64, 64, 64];
/** 64 MiB: large enough that the copy is bandwidth-bound, small enough for any adapter's limits. */
export const DEFAULT_COPY_BYTES = 64 * 1024 * 1024;

export interface Roofline {
  /** Best GEMM rate, GFLOP/s. */
  gemmGflops: number;
  /** Best GEMM rate per CPU-second of this process (harness timeGpu), GFLOP per CPU-s. */
  gemmCpuGflops: number;
  /** The kernel and shape that reached it. */
  gemmShape: string;
  /** Buffer copy bandwidth, GB/s (read + write bytes). */
  copyGBps: number;
  /** FLOPs per byte at which the two ceilings meet: kernels below it are memory-bound. */
  ridgeFlopsPerByte: number;
  /** Every measurement behind the two ceilings. */
  rows: BenchRow[];
  /** GEMMs this device's limits did not allow, and why. */
  skipped?: { kernel: string; shape: string; reason: string }[];
}

export interface RooflineOptions {
  gemmSizes?: number[];
  copyBytes?: number;
  reps: number;
  warmup: number;
  seed?: number;
}

/** One GEMM the roofline tries: what it computes, its counted FLOPs and bytes, and a closure. */
export interface GemmCandidate {
  kernel: string;
  shape: string;
  flops: number;
  bytes: number;
  run: () => Tensor;
  dispose(): void;
}

/**
 * The GEMMs the compute ceiling is taken from: square matmuls of the given sizes (FLOPs 2*n^3;
 * bytes a, b read once and c written once) and the conv kernel, the engine's other GEMM
 * (implicit, im2col-free), on a 3x3 layer of the network's second stage (FLOPs
 * 2*N*O*OH*OW*C*KH*KW; bytes x, w read once, y written once). Inputs are random, from `seed`.
 */
export function gemmCandidates(sizes: number[], seed: number): GemmCandidate[] {
  const rng = new Rng(seed);
  // A candidate whose tensors this device cannot hold runs as a LimitError (measureRoofline skips it).
  const guarded = (
    kernel: string,
    shape: string,
    flops: number,
    bytes: number,
    make: () => Pick<GemmCandidate, 'run' | 'dispose'>,
  ): GemmCandidate => {
    try {
      return { kernel, shape, flops, bytes, ...make() };
    } catch (e) {
      if (!(e instanceof LimitError)) throw e;
      return {
        kernel,
        shape,
        flops,
        bytes,
        run: () => {
          throw e;
        },
        dispose: () => {},
      };
    }
  };
  const out: GemmCandidate[] = sizes.map((n) =>
    guarded('matmul', `${n}x${n}x${n}`, 2 * n * n * n, 4 * 3 * n * n, () => {
      const a = Tensor.from(rng.array(n * n), [n, n]);
      const b = Tensor.from(rng.array(n * n), [n, n]);
      return { run: () => gemm({ t: a }, { t: b }), dispose: () => disposeAll([a, b]) };
    }),
  );
  const [n, c, h, w] = ROOFLINE_CONV_INPUT;
  out.push(
    guarded(
      'conv2d 3x3',
      `x=[${ROOFLINE_CONV_INPUT}] w=[${c},${c},3,3] p1`,
      2 * n * c * h * w * c * 9,
      4 * (2 * n * c * h * w + c * c * 9),
      () => {
        const x = Tensor.from(rng.array(n * c * h * w), ROOFLINE_CONV_INPUT);
        const k = Tensor.from(rng.array(c * c * 9), [c, c, 3, 3]);
        return { run: () => conv2d(x, k, null, { padding: 1 }), dispose: () => disposeAll([x, k]) };
      },
    ),
  );
  return out;
}

export async function measureRoofline(o: RooflineOptions): Promise<Roofline> {
  const rt = runtime();
  const rows: BenchRow[] = [];
  let best: BenchRow | null = null;
  const candidates = gemmCandidates(o.gemmSizes ?? DEFAULT_GEMM_SIZES, o.seed ?? 1);
  const skipped: { kernel: string; shape: string; reason: string }[] = [];
  for (const c of candidates) {
    progress(`roofline: ${c.kernel} ${c.shape} (${o.reps} reps)`);
    let timing: Timing;
    try {
      timing = await timeGpu(c.run, o.reps, o.warmup);
    } catch (e) {
      // A GEMM larger than this device allows: the ceiling comes from the others.
      if (!(e instanceof LimitError)) throw e;
      skipped.push({ kernel: c.kernel, shape: c.shape, reason: e.message });
      c.dispose();
      continue;
    }
    const r = row(`${c.kernel} (roofline)`, c.shape, timing, c.flops, c.bytes);
    rows.push(r);
    if (!best || r.gflops > best.gflops) best = r;
    c.dispose();
  }
  const bytes = Math.min(o.copyBytes ?? DEFAULT_COPY_BYTES, rt.limits.maxBufferSize);
  const usage = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const src = rt.createBuffer('roofline copy source', bytes, usage);
  const dst = rt.createBuffer('roofline copy destination', bytes, usage);
  progress(`roofline: buffer copy ${bytes >> 20} MiB (${o.reps} reps)`);
  const copy = row(
    'copyBufferToBuffer (roofline)',
    `${bytes >> 20} MiB`,
    await timeGpu(() => rt.copy(src, 0, dst, 0, bytes), o.reps, o.warmup),
    0,
    2 * bytes,
  );
  rows.push(copy);
  src.destroy();
  dst.destroy();
  progress('');
  if (!best)
    throw new Error(
      `measureRoofline: no GEMM could run${skipped.length ? `: ${skipped.map((x) => `${x.kernel} ${x.shape}: ${x.reason}`).join('; ')}` : ' (no size given)'}`,
    );
  const gemmCpuGflops = Math.max(...rows.filter((x) => x.flops > 0).map((x) => x.cpuGflops));
  return {
    gemmGflops: best.gflops,
    gemmCpuGflops,
    gemmShape: `${best.kernel.replace(' (roofline)', '')} ${best.shape}`,
    copyGBps: copy.gbps,
    ridgeFlopsPerByte: (best.gflops * 1e9) / (copy.gbps * 1e9),
    rows,
    skipped,
  };
}

/** The better ceilings of two measurements (each taken from whichever reached it). */
export function bestRoofline(a: Roofline, b: Roofline): Roofline {
  const gemm = a.gemmGflops >= b.gemmGflops ? a : b;
  const copyGBps = Math.max(a.copyGBps, b.copyGBps);
  return {
    gemmGflops: gemm.gemmGflops,
    gemmShape: gemm.gemmShape,
    gemmCpuGflops: Math.max(a.gemmCpuGflops, b.gemmCpuGflops),
    copyGBps,
    ridgeFlopsPerByte: gemm.gemmGflops / copyGBps,
    rows: [...a.rows, ...b.rows],
    skipped: [...(a.skipped ?? []), ...(b.skipped ?? [])],
  };
}

interface MemoryBoundCase {
  kernel: string;
  shape: number[];
  run: () => Tensor;
  flops: number;
  bytes: number;
}

/**
 * The network's memory-bound forward ops on its real activation shapes at `size` (one tile,
 * `batch` images): the stem's GroupNorm, ReLU and max-pool, and the first block's residual add,
 * plus the head's average pool, and (GroupNorm networks) the end of the first block unfused and
 * fused. Bytes: inputs read once and outputs written once (a lower bound);
 * FLOPs from the model counter's per-element conventions (models/flops.ts).
 */
export async function timeMemoryBound(
  arch: ResNetArch,
  size: [number, number],
  batch: number,
  reps: number,
  warmup: number,
  wanted: (kernel: string, shape: string) => boolean = () => true,
  seed = 1,
): Promise<BenchRow[]> {
  const rng = new Rng(seed);
  const report = countFlops(arch, size, { batch });
  const layer = (name: string) => {
    const l = report.layers.find((x) => x.name === name);
    if (!l) throw new Error(`timeMemoryBound: the model counter has no layer '${name}'`);
    return l;
  };
  const stem = layer('conv_1').output;
  const pooled = layer('maxpool').output;
  // The last block's output: what the head's average pool reads.
  const last = report.layers.filter((l) => l.kind === 'relu').at(-1)!.output;
  const owned: Tensor[] = [];
  const make = (shape: number[]) => {
    const t = Tensor.from(rng.array(shapeSize(shape)), shape);
    owned.push(t);
    return t;
  };
  const x = make(stem),
    w = make([stem[1]]),
    b = make([stem[1]]);
  const p = make(pooled),
    q = make(pooled);
  const f = make(last);
  const groups = arch.norm === 'group' ? arch.groups : 1;
  const elems = (s: number[]) => shapeSize(s);
  const cases: MemoryBoundCase[] = [
    {
      kernel: 'groupNorm',
      shape: stem,
      run: () => groupNorm(x, w, b, groups),
      flops: layer('norm_1').forwardFlops,
      bytes: 4 * 2 * elems(stem),
    },
    { kernel: 'relu', shape: stem, run: () => relu(x), flops: layer('relu').forwardFlops, bytes: 4 * 2 * elems(stem) },
    {
      kernel: 'maxPool2d 3x3/2',
      shape: stem,
      run: () => maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }),
      flops: layer('maxpool').forwardFlops,
      bytes: 4 * (elems(stem) + elems(pooled)),
    },
    { kernel: 'add (residual)', shape: pooled, run: () => add(p, q), flops: elems(pooled), bytes: 4 * 3 * elems(pooled) },
    {
      kernel: 'adaptiveAvgPool2d 1x1',
      shape: last,
      run: () => adaptiveAvgPool2d(f, [1, 1]),
      flops: layer('avgpool').forwardFlops,
      bytes: 4 * (elems(last) + last[0] * last[1]),
    },
  ];
  const rows: BenchRow[] = [];
  for (const c of cases.filter((k) => wanted(k.kernel, `[${k.shape.join(',')}]`))) {
    progress(`timing ${c.kernel} [${c.shape}] (${reps} reps)`);
    rows.push(row(c.kernel, `[${c.shape.join(',')}]`, await timeGpu(c.run, reps, warmup), c.flops, c.bytes));
  }
  // The end of a BasicBlock (norm_2 -> + identity -> ReLU) on the first block's map, as three ops
  // and as the fused groupNormRelu (what the model runs with GroupNorm), timed round-robin so
  // that their ratio comes from one stretch of the machine's load. FLOPs: norm 8 + add 1 + relu 1
  // per element. Bytes: unfused reads and writes the map 7 times (norm 2, add 3, relu 2), fused 3.
  const unfused = 'groupNorm, add, relu (3 ops)',
    fused = 'groupNormRelu + residual (fused)',
    shape = `[${pooled.join(',')}]`;
  if (arch.norm === 'group' && (wanted(unfused, shape) || wanted(fused, shape))) {
    progress(`timing ${unfused} and ${fused} ${shape}, round-robin (${reps} reps)`);
    const [tu, tf] = await timeGpuRoundRobin(
      [() => relu(add(groupNorm(p, w, b, groups), q)), () => groupNormRelu(p, w, b, groups, q)],
      reps,
      warmup,
    );
    rows.push(
      row(unfused, shape, tu, 10 * elems(pooled), 4 * 7 * elems(pooled)),
      row(fused, shape, tf, 10 * elems(pooled), 4 * 3 * elems(pooled)),
    );
  }
  progress('');
  for (const t of owned) t.dispose();
  return rows;
}

/**
 * Each row as a fraction of the roofline: of the GEMM rate and of the copy bandwidth, and which
 * ceiling applies (arithmetic intensity FLOPs/byte above the ridge: compute-bound). Compute-bound
 * rows also get the fraction per CPU-second (harness timeGpu), which other processes competing
 * for the cores do not distort on a software adapter; a wall-clock fraction above 100% means the
 * load changed between the two measurements.
 */
export function formatRooflineFractions(rows: BenchRow[], r: Roofline, adapterName?: string): string {
  const cells = rows
    .filter((x) => !x.kernel.endsWith('(roofline)'))
    .map((x) => {
      const intensity = x.bytes > 0 ? x.flops / x.bytes : Infinity;
      const bound = intensity >= r.ridgeFlopsPerByte ? 'compute' : 'memory';
      const fraction = bound === 'compute' ? x.gflops / r.gemmGflops : x.gbps / r.copyGBps;
      const cpu = bound === 'compute' ? fmtPercent(x.cpuGflops / r.gemmCpuGflops) : '-';
      return [
        x.kernel,
        x.shape,
        fmtNum(intensity),
        bound,
        fmtPercent(x.gflops / r.gemmGflops),
        fmtPercent(x.gbps / r.copyGBps),
        fmtPercent(fraction),
        cpu,
      ];
    });
  return [
    `roofline (the engine's own best measured rates on this adapter, not the device's peak): GEMM ${fmtNum(r.gemmGflops)} GFLOP/s, ${fmtNum(r.gemmCpuGflops)} GFLOP per CPU-second (best GEMM: ${r.gemmShape}), copy ${fmtNum(r.copyGBps)} GB/s (read + write), ridge ${fmtNum(r.ridgeFlopsPerByte)} FLOP/byte`,
    ...(adapterName !== undefined ? [nominalPeakLine(adapterName, r.gemmGflops)] : []),
    textTable(
      ['kernel', 'shape', 'FLOP/byte', 'bound', 'of GEMM peak', 'of copy BW', 'of its ceiling', 'of GEMM peak (CPU s)'],
      cells,
      numericColumns(8, 2),
    ),
    'of GEMM peak (CPU s): the same fraction with GFLOP per CPU-second on both sides (robust to other load on a software adapter; wall-clock fractions above 100% mean the load changed between measurements).',
  ].join('\n');
}

/** Kernels in the chain that measures launch overhead. */
export const OVERHEAD_CHAIN = 256;

/**
 * The fixed cost of one dispatch on this adapter, in microseconds: a chain of OVERHEAD_CHAIN
 * ReLUs on a 64-element tensor (one workgroup each, no real work), each output feeding the
 * next, timed until the GPU finished, divided by the chain length. It includes what every op
 * pays: output allocation from the pool, bind group, uniform slot, recording, and the GPU-side
 * launch and barrier between dependent dispatches.
 */
export async function measureDispatchOverhead(reps: number, warmup: number): Promise<{ usPerDispatch: number; row: BenchRow }> {
  const x = Tensor.from(new Float32Array(64).fill(1), [64]);
  const chain = () => {
    let y = relu(x);
    for (let i = 1; i < OVERHEAD_CHAIN; i++) y = relu(y);
    return y;
  };
  progress(`dispatch overhead: ${OVERHEAD_CHAIN} chained one-workgroup kernels (${reps} reps)`);
  const t = await timeGpu(chain, reps, warmup);
  progress('');
  x.dispose();
  return {
    usPerDispatch: (1000 * t.ms) / OVERHEAD_CHAIN,
    row: row('relu chain (dispatch overhead)', `${OVERHEAD_CHAIN} x [64]`, t, OVERHEAD_CHAIN * 64, OVERHEAD_CHAIN * 2 * 4 * 64),
  };
}
