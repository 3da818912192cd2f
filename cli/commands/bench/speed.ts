/** rbd bench speed: measured throughput per magnification against the roofline (bench/speed.ts). */
import { speedRun, formatSpeedRows, DEFAULT_BATCH } from '../../../bench/speed.ts';
import { DEFAULT_MAGS, DEFAULT_TILE } from '../../../bench/flops.ts';
import { DEFAULT_GEMM_SIZES } from '../../../bench/roofline.ts';
import { profileStep } from '../../../bench/profile.ts';
import { writeBenchReport } from '../../../bench/report.ts';
import { writeJson } from '../../../util/files.ts';
import { fmtNum } from '../../../util/table.ts';
import {
  parseFlags,
  numberFlag,
  listFlag,
  magsFlag,
  archFlag,
  adapterHelp,
  precisionFlag,
  precisionHelp,
  PRECISION_OPTION,
} from '../../flags.ts';
import { openRuntime, closeRuntime } from '../../runtime.ts';

export const summary = 'measured inference and distillation-step images/s per magnification, vs the roofline';

export const help = `usage: rbd bench speed [--mags LIST] [--tile N] [--batch N] [--reps N] [--warmup N] [--arch NAME]
                       [--gemm-sizes LIST] [--seed N] [--json FILE] [--report DIR] [--precision P] [--adapter A]

Measures, per magnification, student inference images/s and distillation training-step images/s
(teacher forward at the top magnification without gradients + student forward + loss + backward
+ Adam step; inputs already on the GPU), the achieved GFLOP/s of the step (FLOPs from the layer
shapes, as in bench flops) and its fraction of the roofline measured in the same run (best GEMM
rate of the engine's matmul and conv kernels; buffer copy bandwidth), also per CPU-second of this
process (robust to other processes on a software adapter). Also: the fixed cost of one dispatch
(a chain of trivial kernels), the top magnification's step against the best GEMM in interleaved
rounds (both under the same load), the speed-up from the top magnification next to the FLOP ratio,
the dispatches per step, and with --data the loader's images/s. Each timing waits for the GPU to
finish; median of --reps runs after --warmup runs, with min-max; the runs go round-robin over the
magnifications, so a change of load from other processes affects them all alike.

  --mags LIST        magnifications (default ${DEFAULT_MAGS}); the highest is the teacher's
  --tile N           tile side in pixels at the top magnification (default ${DEFAULT_TILE})
  --batch N          tiles per batch (default ${DEFAULT_BATCH}; the study trains with 16)
  --reps N           timed repetitions (default 5)
  --warmup N         untimed runs before timing (default 2)
  --arch NAME        architecture preset: rbd | resnet18 (default rbd)
  --gemm-sizes LIST  square matmul sizes tried for the roofline (default ${DEFAULT_GEMM_SIZES.join(',')})
  --seed N           seed of the weights and inputs (default 1)
  --data DIR         also measure the data loader's images/s per magnification on DIR's train split
                     (decode + paired augmentation + normalization, no GPU; default: not measured)
  --skip-bad         with --data: skip unreadable images, naming each once, instead of stopping
  --json FILE        also write the results as JSON (adapter, rooflineGflops, results[], versions, commit, command)
  --report DIR       also profile one step with the student at the top and at the lowest magnification
                     and write DIR/bench-report.md and .html (plots inline) with the .svg figures
${precisionHelp(21)}
${adapterHelp(21)}
`;

export async function run(argv: string[]): Promise<number> {
  const cmd = 'bench speed';
  const { values } = parseFlags(cmd, argv, {
    mags: { type: 'string' },
    tile: { type: 'string' },
    batch: { type: 'string' },
    reps: { type: 'string' },
    warmup: { type: 'string' },
    arch: { type: 'string' },
    'gemm-sizes': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'string' },
    report: { type: 'string' },
    data: { type: 'string' },
    'skip-bad': { type: 'boolean' },
    ...PRECISION_OPTION,
  });
  const tile = numberFlag(cmd, 'tile', values.tile, DEFAULT_TILE, { min: 1, integer: true });
  const inputs = magsFlag(cmd, values.mags, tile);
  const batch = numberFlag(cmd, 'batch', values.batch, DEFAULT_BATCH, { min: 1, integer: true });
  const reps = numberFlag(cmd, 'reps', values.reps, 5, { min: 1, integer: true });
  const warmup = numberFlag(cmd, 'warmup', values.warmup, 2, { min: 0, integer: true });
  const seed = numberFlag(cmd, 'seed', values.seed, 1, { integer: true });
  const gemmSizes = listFlag(cmd, 'gemm-sizes', values['gemm-sizes'], DEFAULT_GEMM_SIZES);
  const { name: archName, arch } = archFlag(cmd, values.arch);
  await openRuntime(values.adapter, precisionFlag(cmd, values.precision));
  try {
    const result = await speedRun(
      { arch, archName, inputs, tile, batch, reps, warmup, seed, gemmSizes, data: values.data, skipBad: Boolean(values['skip-bad']) },
      (line) => console.log(line),
    );
    console.log(formatSpeedRows(result.results));
    if (values.data)
      console.log(
        `loader img/s (decode + paired augmentation, ${values.data}, train split): ${result.results.map((r) => `${r.mag} ${r.loaderImagesPerSec === null ? 'n/a' : fmtNum(r.loaderImagesPerSec)}`).join(', ')}`,
      );
    console.log(
      'img/s and ms: per batch, median (min-max) of the timed runs. speed-up: train-step time at the top magnification / here; FLOP ratio: the same for the counted FLOPs. cached-teacher: the step with the teacher outputs uploaded from a teacher-target cache instead of computed.',
    );
    console.log(
      'of roofline (CPU s): the same fraction with FLOPs per CPU-second of this process on both sides (insensitive to other processes on a software adapter).',
    );
    if (values.json) {
      writeJson(values.json, result);
      console.log(`wrote ${values.json}`);
    }
    if (values.report) {
      // One step with the student at the top magnification, one at the lowest: the kernel
      // breakdown, and where the small input's time goes.
      const profile = await profileStep({ arch, inputs: [inputs[0], inputs[0]], batch, seed });
      const profileLow =
        inputs.length > 1 ? await profileStep({ arch, inputs: [inputs[0], inputs[inputs.length - 1]], batch, seed }) : undefined;
      const files = writeBenchReport(values.report, { speed: result, profile, profileLow });
      console.log(`wrote ${files.join(', ')}`);
    }
    return 0;
  } finally {
    await closeRuntime();
  }
}
