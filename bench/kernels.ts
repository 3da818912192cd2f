/**
 * rbd bench kernels: times each conv2d pass (forward, input gradient, weight gradient) on the
 * model's real layer shapes, and a 1024^3 matmul, after validating every kernel against the
 * float64 reference on a small map with the same channels and kernel.
 *
 * FLOPs are counted as 2 per multiply-add: conv forward = 2*N*O*OH*OW*C*KH*KW, and both
 * backward passes perform the same number of multiply-adds; matmul = 2*M*N*K. Bytes are each
 * input read once plus each output written once (a lower bound on traffic).
 */
import { Tensor } from '../engine/tensor.ts';
import { Rng } from '../engine/random.ts';
import { conv2dGeometry, conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, type ConvGeometry } from '../engine/ops/conv2d.ts';
import { gemm } from '../engine/ops/matmul.ts';
import { gemmTiles, GEMM_CONSTANTS } from '../engine/ops/gemm_tiles.ts';
import { conv2dRef, conv2dBackwardRef, type Shape4 } from '../engine/reference/conv2d.ts';
import { matmulRef } from '../engine/reference/matmul.ts';
import { assertClose, TOL } from '../engine/check.ts';
import { precision, setPrecision, type Precision } from '../engine/precision.ts';

/** The validation tolerance of a GEMM pass of reduction length n at the runtime precision. */
const gemmTol = (n: number) => (precision() === 'f16' ? TOL.forLengthF16(n) : TOL.forLength(n));
import { initRuntime, closeRuntime } from '../engine/runtime.ts';
import { writeJson } from '../util/files.ts';
import { timeGpuRoundRobin, timeGpuOneSubmission, row, printTable, progress, type BenchRow } from './harness.ts';
import { textTable, numericColumns } from '../util/table.ts';
import { nominalPeak } from './device_peaks.ts';
import { RBD_ARCH } from '../models/arch.ts';
import { measureRoofline, timeMemoryBound, formatRooflineFractions } from './roofline.ts';
import { benchMeta } from './meta.ts';
import { choiceState, withRulesOnly } from '../engine/variant_choice.ts';

interface ConvCase {
  label: string;
  x: Shape4;
  w: Shape4;
  stride: number;
  padding: number;
}

const CONV_CASES: ConvCase[] = [
  { label: 'stem 7x7 s2', x: [8, 3, 128, 128], w: [32, 3, 7, 7], stride: 2, padding: 3 },
  { label: '3x3 32ch', x: [8, 32, 64, 64], w: [32, 32, 3, 3], stride: 1, padding: 1 },
  { label: '3x3 64ch', x: [8, 64, 32, 32], w: [64, 64, 3, 3], stride: 1, padding: 1 },
  { label: '3x3 128ch', x: [8, 128, 16, 16], w: [128, 128, 3, 3], stride: 1, padding: 1 },
  { label: '3x3 256ch', x: [8, 256, 8, 8], w: [256, 256, 3, 3], stride: 1, padding: 1 },
];

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Compare the three conv kernels with the reference on a 6x5 map with c's channels and kernel. */
async function validateConv(c: ConvCase, rng: Rng) {
  const xs: Shape4 = [1, c.x[1], 6, 5];
  // float32-exact inputs (the reference sees the GPU's numbers), weights scaled by 1/sqrt(fan-in)
  // as a network's are, so partial sums stay O(1): the premise of TOL.forLength.
  const f32 = (v: Float64Array) => Float64Array.from(Float32Array.from(v));
  const fanIn = c.w[1] * c.w[2] * c.w[3];
  const x = f32(rng.array(size(xs))),
    w = f32(rng.array(size(c.w), () => rng.uniform(-1, 1) / Math.sqrt(fanIn)));
  const xt = Tensor.from(x, xs),
    wt = Tensor.from(w, c.w);
  const g = conv2dGeometry(xt, wt, null, { stride: c.stride, padding: c.padding });
  const p = {
    stride: [c.stride, c.stride] as [number, number],
    padding: [c.padding, c.padding] as [number, number],
    dilation: [1, 1] as [number, number],
  };
  const ref = conv2dRef(x, xs, w, c.w, null, p);
  const dy = f32(rng.array(ref.y.length));
  const refGrad = conv2dBackwardRef(x, xs, w, c.w, dy, p);
  const dyt = Tensor.from(dy, ref.shape);
  const outs = [conv2dForward(xt, wt, null, g), conv2dBackwardInput(dyt, wt, g), conv2dBackwardWeight(xt, dyt, g)];
  const K = c.w[1] * c.w[2] * c.w[3];
  assertClose(`validate conv2dForward ${c.label}`, await outs[0].read(), ref.y, gemmTol(K));
  assertClose(`validate conv2dBackwardInput ${c.label}`, await outs[1].read(), refGrad.dx, gemmTol(c.w[0] * c.w[2] * c.w[3]));
  assertClose(`validate conv2dBackwardWeight ${c.label}`, await outs[2].read(), refGrad.dw, gemmTol(g.batch * g.OH * g.OW));
  for (const t of [xt, wt, dyt, ...outs]) t.dispose();
}

async function validateMatmul(rng: Rng) {
  const [M, K, N] = [37, 53, 29];
  const f32 = (v: Float64Array) => Float64Array.from(Float32Array.from(v));
  const a = f32(rng.array(M * K)),
    b = f32(rng.array(K * N, () => rng.uniform(-1, 1) / Math.sqrt(K)));
  const at = Tensor.from(a, [M, K]),
    bt = Tensor.from(b, [K, N]);
  const c = gemm({ t: at }, { t: bt });
  assertClose('validate matmul 37x53 @ 53x29', await c.read(), matmulRef(a, b, M, K, N), gemmTol(K));
  for (const t of [at, bt, c]) t.dispose();
}

export interface KernelBenchOptions {
  reps: number;
  warmup: number;
  /** Only rows whose kernel or shape contains this text. */
  only?: string;
  /** Also write the rows and the run's description here as JSON. */
  json?: string;
  /** auto | vulkan | gl | name substring (engine/device.ts). */
  adapter: string;
  /** Precision of the GEMM kernels (engine/precision.ts); default f32. */
  precision?: Precision;
}

/** Validate, then time, every kernel above; print the tables (`rbd bench kernels`). */
export async function runKernelBench(o: KernelBenchOptions): Promise<void> {
  const { reps, warmup, only } = o;
  const rt = await initRuntime({ adapter: o.adapter });
  try {
    setPrecision(o.precision ?? 'f32');
    const rng = new Rng(1);
    const tiles = gemmTiles();
    const adapter = `${rt.gpu.adapter.name} (${rt.gpu.adapter.backend})`;
    const { TM, TN } = GEMM_CONSTANTS;
    console.log(
      `adapter: ${adapter}; GEMM tiles ${TM}x${TN * tiles.WG_N} (${TM} rows shared per workgroup, ${TN} columns per invocation, workgroup ${tiles.WG_N}, rows shared by ${tiles.sharing}); precision ${precision()}`,
    );
    const rows: BenchRow[] = [];
    const wanted = (kernel: string, shape: string) => !only || kernel.includes(only) || shape.includes(only);

    // Every conv pass and the matmul are timed with their repetitions interleaved (see
    // timeGpuRoundRobin): on a shared machine a slow spell then costs every kernel alike.
    const jobs: { kernel: string; shape: string; run: () => Tensor; flops: number; bytes: number }[] = [];
    const inputs: Tensor[] = [];
    for (const c of CONV_CASES) {
      const passes = ['conv2dForward', 'conv2dBackwardInput', 'conv2dBackwardWeight'].filter((k) => wanted(k, c.label));
      if (!passes.length) continue;
      progress(`validating ${c.label}`);
      await validateConv(c, rng);
      const x = Tensor.from(rng.array(size(c.x)), c.x);
      const w = Tensor.from(rng.array(size(c.w)), c.w);
      const g: ConvGeometry = conv2dGeometry(x, w, null, { stride: c.stride, padding: c.padding });
      const yShape = [g.batch, g.O, g.OH, g.OW];
      const dy = Tensor.from(rng.array(size(yShape)), yShape);
      inputs.push(x, w, dy);
      const flops = 2 * g.batch * g.O * g.OH * g.OW * g.C * g.KH * g.KW;
      const shape = `${c.label} x=[${c.x}] w=[${c.w}] s${c.stride} p${c.padding}`;
      const bytes = 4 * (x.size + w.size + dy.size);
      const run: Record<string, () => Tensor> = {
        conv2dForward: () => conv2dForward(x, w, null, g),
        conv2dBackwardInput: () => conv2dBackwardInput(dy, w, g),
        conv2dBackwardWeight: () => conv2dBackwardWeight(x, dy, g),
      };
      for (const k of passes) jobs.push({ kernel: k, shape, run: run[k], flops, bytes });
    }
    // With tuned choices in force (rbd tune), each pass also runs with today's rules, in the same
    // interleaved rounds: the before/after of the tune cache under one load.
    const tunedOn = choiceState().mode === 'tuned';
    const compared = (list: typeof jobs) =>
      tunedOn
        ? list.flatMap((j) => [
            { ...j, kernel: `${j.kernel} (rules)`, run: () => withRulesOnly(j.run) },
            { ...j, kernel: `${j.kernel} (tuned)` },
          ])
        : list;
    if (wanted('matmul', '1024x1024x1024')) {
      progress('validating matmul');
      await validateMatmul(rng);
      const n = 1024;
      const a = Tensor.from(rng.array(n * n), [n, n]),
        b = Tensor.from(rng.array(n * n), [n, n]);
      inputs.push(a, b);
      jobs.push({
        kernel: 'matmul',
        shape: '1024x1024x1024',
        run: () => gemm({ t: a }, { t: b }),
        flops: 2 * n * n * n,
        bytes: 4 * 3 * n * n,
      });
    }
    jobs.splice(0, jobs.length, ...compared(jobs));
    if (tunedOn)
      console.log(`tuned variant choices in force (${choiceState().source}): every kernel is timed with the rules and with them`);
    if (jobs.length) {
      progress(`timing ${jobs.length} kernels, ${reps} interleaved rounds`);
      const timings = await timeGpuRoundRobin(
        jobs.map((j) => j.run),
        reps,
        warmup,
      );
      jobs.forEach((j, i) => rows.push(row(j.kernel, j.shape, timings[i], j.flops, j.bytes)));
      // The same kernels with their repetitions in one submission and one wait at the end.
      for (const [i, j] of jobs.entries()) {
        progress(`timing ${j.kernel} ${j.shape}: ${reps} repetitions in one submission`);
        const t = await timeGpuOneSubmission(j.run, reps, 1);
        const r = rows[rows.length - jobs.length + i];
        r.oneSubmissionMs = t.ms;
        r.oneSubmissionGflops = j.flops / t.ms / 1e6;
        r.oneSubmissionSubmits = t.submits;
      }
    }
    for (const t of inputs) t.dispose();

    // Memory-bound kernels on the network's activations (256px tiles at 10x, batch 8), and the roofline.
    rows.push(...(await timeMemoryBound(RBD_ARCH, [256, 256], 8, reps, warmup, wanted)));
    const roofline = await measureRoofline({ reps, warmup });
    rows.push(...roofline.rows);
    progress('');
    printTable(rows, [
      'FLOPs: 2 per multiply-add. conv forward = 2*N*O*OH*OW*C*KH*KW; backwardInput and backwardWeight do the same number of multiply-adds; matmul = 2*M*N*K.',
      `ms: median of ${reps} runs after ${warmup} warm-up runs, each timed until the GPU finished; the conv passes and the matmul run their repetitions interleaved. best: the fastest run. GB/s: inputs read once + output written once.`,
      "GFLOP/cpu-s: FLOPs per second of this process's CPU time (on a software adapter the GPU is this process's threads; unlike GFLOP/s it is not lowered by other load).",
    ]);
    const both = rows.filter((r) => r.oneSubmissionMs !== undefined);
    if (both.length) {
      console.log(
        textTable(
          ['kernel', 'shape', 'ms (wait each)', 'ms (one submission)', 'GFLOP/s (wait each)', 'GFLOP/s (one submission)', 'submits'],
          both.map((r) => [
            r.kernel,
            r.shape,
            r.ms.toFixed(2),
            r.oneSubmissionMs!.toFixed(2),
            r.gflops.toFixed(2),
            r.oneSubmissionGflops!.toFixed(2),
            String(r.oneSubmissionSubmits),
          ]),
          numericColumns(7, 2),
        ),
      );
      console.log(
        `wait each: median of ${reps} runs, each submitted and waited for (the table above). one submission: ${reps} runs recorded back to back, submitted together and waited for once, total / ${reps} (the GPU never idles between runs; 'submits' counts the queue submissions it took).`,
      );
    }
    console.log(formatRooflineFractions(rows, roofline, rt.gpu.adapter.name));
    if (o.json) {
      writeJson(o.json, {
        ...benchMeta(rt, 'bench kernels', { inputs: 1 }),
        tiles,
        reps,
        warmup,
        rooflineGflops: roofline.gemmGflops,
        // The device's nominal f32 peak where bench/device_peaks.ts knows it (null: unknown).
        nominalPeak: nominalPeak(rt.gpu.adapter.name),
        rooflineCopyGBps: roofline.copyGBps,
        rows,
      });
      console.log(`wrote ${o.json}`);
    }
  } finally {
    await closeRuntime();
  }
}
