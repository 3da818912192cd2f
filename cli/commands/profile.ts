/** rbd profile: one distillation training step per phase, op and kernel, plus a Chrome trace. */
import { parseFlags, numberFlag, magFlag, magsFlag, archFlag, adapterHelp, UsageError } from '../flags.ts';
import { openRuntime, closeRuntime } from '../runtime.ts';
import { writeJson } from '../../util/files.ts';
import { parseMag } from '../../data/mag.ts';
import { DEFAULT_TILE } from '../../bench/flops.ts';
import type { MagInput } from '../../bench/flops.ts';
import { profileStep, formatProfile, toTrace } from '../../bench/profile.ts';
import { benchMeta, adapterLine } from '../../bench/meta.ts';

export const help = `usage: rbd profile [--teacher-mag M] [--student-mag M] [--tile N] [--batch N] [--arch NAME]
                   [--warmup N] [--seed N] [--wall-clock] [--kernels N] [--json FILE] [--trace FILE] [--adapter A]

Runs one distillation training step (teacher forward at --teacher-mag without gradients, student
forward at --student-mag, distillation loss, backward, Adam step) after --warmup untimed steps,
and breaks it down per phase, per op (the op the model called: each op names its dispatches) and per kernel:
GPU time, share of the step, counted FLOPs and GFLOP/s. Times come from GPU timestamp queries
(one compute pass per dispatch) when the adapter has 'timestamp-query'; otherwise from the wall
clock with the GPU synchronized around each phase (then only per-phase times; the output says
which clock was used).

  --teacher-mag M  the teacher's magnification (default 10x)
  --student-mag M  the student's magnification (default: the teacher's, the heaviest step); a
                   whole-number reduction of the teacher's, e.g. 2.5x
  --tile N         tile side in pixels at the teacher's magnification (default ${DEFAULT_TILE})
  --batch N        tiles per batch (default 2)
  --arch NAME      architecture preset: rbd | resnet18 (default rbd)
  --warmup N       untimed steps first (default 1)
  --seed N         seed of the weights and inputs (default 1)
  --wall-clock     use the synchronized wall clock even where timestamp queries exist
  --kernels N      kernel rows to print (default 20; the JSON has all)
  --json FILE      write the breakdown as JSON (phases, ops, kernels, every dispatch, adapter, versions, commit, command)
  --trace FILE     write Chrome trace-event JSON (open in https://ui.perfetto.dev or chrome://tracing)
${adapterHelp(19)}
`;

export async function run(argv: string[]): Promise<number> {
  const cmd = 'profile';
  const { values } = parseFlags(cmd, argv, {
    'teacher-mag': { type: 'string' },
    'student-mag': { type: 'string' },
    tile: { type: 'string' },
    batch: { type: 'string' },
    arch: { type: 'string' },
    warmup: { type: 'string' },
    seed: { type: 'string' },
    'wall-clock': { type: 'boolean' },
    kernels: { type: 'string' },
    json: { type: 'string' },
    trace: { type: 'string' },
  });
  const tile = numberFlag(cmd, 'tile', values.tile, DEFAULT_TILE, { min: 1, integer: true });
  const batch = numberFlag(cmd, 'batch', values.batch, 2, { min: 1, integer: true });
  const warmup = numberFlag(cmd, 'warmup', values.warmup, 1, { min: 0, integer: true });
  const seed = numberFlag(cmd, 'seed', values.seed, 1, { integer: true });
  const kernelRows = numberFlag(cmd, 'kernels', values.kernels, 20, { min: 1, integer: true });
  const teacherMag = magFlag(cmd, 'teacher-mag', values['teacher-mag'], '10x');
  const studentMag = magFlag(cmd, 'student-mag', values['student-mag'], teacherMag);
  const [teacher, student] = [parseMag(teacherMag)!, parseMag(studentMag)!];
  if (student.value > teacher.value)
    throw new UsageError(
      cmd,
      `--student-mag ${student.name} is above --teacher-mag ${teacher.name}; the student sees the lower magnification`,
    );
  const inputs = magsFlag(
    cmd,
    teacher.value === student.value ? teacher.name : `${teacher.name},${student.name}`,
    tile,
    '--teacher-mag/--student-mag',
  );
  const pair: [MagInput, MagInput] = [inputs[0], inputs[inputs.length - 1]];
  const { name: archName, arch } = archFlag(cmd, values.arch);
  const rt = await openRuntime(values.adapter);
  try {
    const meta = benchMeta(rt, cmd, { weights: seed, inputs: seed });
    console.log(
      `adapter: ${adapterLine(meta.adapter!)}; arch ${archName}; teacher ${pair[0].mag} ${pair[0].size.join('x')}, student ${pair[1].mag} ${pair[1].size.join('x')}, batch ${batch}`,
    );
    const s = await profileStep({ arch, inputs: pair, batch, seed, warmup, timestamps: !values['wall-clock'] });
    console.log(formatProfile(s, kernelRows));
    const described = { arch: { preset: archName, ...arch }, tile, batch, teacherMag: pair[0].mag, studentMag: pair[1].mag };
    if (values.json) {
      writeJson(values.json, { ...meta, ...described, ...s });
      console.log(`wrote ${values.json}`);
    }
    if (values.trace) {
      writeJson(values.trace, toTrace(s, { ...meta, ...described }));
      console.log(`wrote ${values.trace} (open in https://ui.perfetto.dev)`);
    }
    return 0;
  } finally {
    await closeRuntime();
  }
}
