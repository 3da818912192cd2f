/** rbd bench kernels: each kernel validated, then timed on the model's shapes (bench/kernels.ts). */
import { runKernelBench } from '../../../bench/kernels.ts';
import { DEFAULT_GEMM_SIZES } from '../../../bench/roofline.ts';
import { parseFlags, numberFlag, adapterHelp, precisionFlag, precisionHelp, PRECISION_OPTION } from '../../flags.ts';
import { adapterChoice, openRuntime } from '../../runtime.ts';

export const summary = "time the conv2d passes on the model's layer shapes and a 1024^3 matmul (GFLOP/s)";

export const help = `usage: rbd bench kernels [--reps N] [--warmup N] [--only TEXT] [--json FILE] [--precision P] [--adapter A]

Validates each conv2d kernel (forward, backwardInput, backwardWeight) and the matmul kernel
against the float64 reference on a small map, then times them on the model's layer shapes:
the 3x3 stride-1 pad-1 layers at batch 8 (32ch 64x64, 64ch 32x32, 128ch 16x16, 256ch 8x8),
the 7x7 stride-2 stem (3 -> 32, 128x128 input, pad 3) and a 1024x1024x1024 matmul.
Each timing waits for the GPU to finish; the median of the repetitions is reported, and the
fastest one (best GFLOP/s). The conv passes and the matmul run their repetitions interleaved
(round 1 of every kernel, then round 2, ...), so a slow spell of a shared machine hits all alike.
Prints kernel, shape, ms, GFLOP/s, best GFLOP/s, GB/s, GFLOP/cpu-s; FLOPs counted as 2 per multiply-add
(GFLOP/cpu-s: per second of this process's CPU time, meaningful on software adapters).
Then the same conv passes and matmul timed a second way: --reps runs recorded back to back,
submitted together and waited for once (ms = total / reps), beside the wait-each median: the
difference is the submit-to-finish latency and idle GPU between runs that waiting each time adds.
With tuned variant choices in force (rbd tune; rbd info says), every conv pass and the matmul is
timed twice in the same interleaved rounds, '(rules)' with today's rules and '(tuned)' with the
cache's choices: the before/after of tuning under one load.
Then the memory-bound kernels (GroupNorm, ReLU, max-pool, residual add, average pool) on the
network's activations for 256px tiles at batch 8, and the adapter's roofline measured in the same
run: the best rate of the engine's matmul (${DEFAULT_GEMM_SIZES.join(', ')} cubed) and of a 3x3 conv layer, and the
buffer copy bandwidth; every row is shown as a fraction of the ceiling that bounds it (compute
above the ridge, memory below). These ceilings are the engine's own best measured rates, not the
device's peak; the device's nominal f32 peak (FMA = 2 FLOPs) is printed where the adapter is a
device of bench/device_peaks.ts, else 'unknown'.

  --reps N       timed repetitions per kernel (default 5)
  --warmup N     untimed runs before timing (default 2)
  --only TEXT    only rows whose kernel or shape contains TEXT (e.g. 'Weight', '256ch')
  --json FILE    also write the rows (kernel, shape, ms, gflops, bestMs, bestGflops, flops, cpuMs,
                 cpuGflops, bytes, gbps, reps) as JSON
${precisionHelp(17)}
${adapterHelp(17)}
`;

export async function run(argv: string[]): Promise<number> {
  const cmd = 'bench kernels';
  const { values } = parseFlags(cmd, argv, {
    reps: { type: 'string' },
    warmup: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
    ...PRECISION_OPTION,
  });
  await openRuntime(values.adapter, precisionFlag(cmd, values.precision));
  await runKernelBench({
    reps: numberFlag(cmd, 'reps', values.reps, 5, { min: 1, integer: true }),
    warmup: numberFlag(cmd, 'warmup', values.warmup, 2, { min: 0, integer: true }),
    only: values.only,
    json: values.json,
    adapter: adapterChoice(values.adapter),
    precision: precisionFlag(cmd, values.precision),
  });
  return 0;
}
