/**
 * rbd bench flops: what each magnification costs, counted from the real layer shapes by the
 * model's FLOP counter (models/flops.ts), no GPU involved.
 *
 * A tile covers the same tissue at every magnification: `tile` pixels square at the top
 * (highest) magnification, tile / f at a magnification f times lower (f a whole number, as a
 * slide pyramid downsamples). Per magnification, for one tile:
 *   forward GFLOPs      the network's forward pass at that input size
 *   train-step GFLOPs   the distillation step: teacher forward at the top magnification (no
 *                       gradients) + student forward + student backward at this magnification.
 *                       Not included: the loss ops (softmax/KL, feature resize, MSE: a few FLOPs
 *                       per logit and feature element, well under 0.1% of the step) and the
 *                       optimizer update (Adam: about 15 FLOPs per parameter, ~18 MFLOPs for the
 *                       rbd net, 0.7% of the 10x step of one 256px tile); rates computed from
 *                       these counts are therefore slight underestimates.
 *   activation memory   the student's float32 activations alive when its backward starts
 *   relative cost       forward (and train-step) FLOPs relative to the top magnification
 */
import { countFlops, type FlopReport } from '../models/flops.ts';
import { PRESETS, presetArch, type ResNetArch } from '../models/arch.ts';
import { requireMag, downsampleFactor, byDescendingMag, type Mag } from '../data/mag.ts';
import { writeJson } from '../train/files.ts';
import { UsageError, parseFlags, numberFlag } from '../cli/util.ts';
import { benchMeta } from './meta.ts';
import { textTable, numericColumns, fmtNum, fmtBytes } from './report.ts';

export const DEFAULT_MAGS = '10x,5x,2.5x,1.25x,0.625x';
export const DEFAULT_TILE = 256;

/** One magnification of a benchmark: its name, its factor below the top one, the input size. */
export interface MagInput {
  mag: string;
  value: number;
  /** Top magnification / this one (1, 2, 4, ...). */
  factor: number;
  /** Input [H, W] in pixels of one tile. */
  size: [number, number];
}

/**
 * Parse `--mags` ('10x,5x,2.5x') and `--tile` into input sizes, highest magnification first.
 * Errors name the flag: a magnification that is not a whole-number reduction of the top one, or
 * a tile that the factor does not divide.
 */
export function magInputs(command: string, mags: string, tile: number, flag = '--mags'): MagInput[] {
  let parsed: Mag[];
  try {
    parsed = mags.split(',').map((s) => s.trim()).filter(Boolean).map((s) => requireMag(s, flag));
  } catch (e) {
    throw new UsageError(command, (e as Error).message);
  }
  if (parsed.length === 0) throw new UsageError(command, `${flag} lists no magnification (e.g. ${DEFAULT_MAGS})`);
  const names = new Set(parsed.map((m) => m.value));
  if (names.size !== parsed.length) throw new UsageError(command, `${flag} '${mags}' lists a magnification twice`);
  parsed.sort(byDescendingMag);
  const top = parsed[0];
  return parsed.map((m) => {
    let factor: number;
    try {
      factor = downsampleFactor(top, m);
    } catch (e) {
      throw new UsageError(command, `${flag}: ${(e as Error).message}`);
    }
    if (tile % factor !== 0) throw new UsageError(command, `--tile ${tile} is not divisible by ${factor} (${top.name} -> ${m.name}); choose a tile that is a multiple of ${factor}`);
    return { mag: m.name, value: m.value, factor, size: [tile / factor, tile / factor] };
  });
}

/** The `--arch` preset, with a message listing the choices. */
export function archFlag(command: string, name: string | undefined): { name: string; arch: ResNetArch } {
  const n = name ?? 'rbd';
  if (!PRESETS[n]) throw new UsageError(command, `--arch '${n}' is not a preset; choose one of: ${Object.keys(PRESETS).join(', ')}`);
  return { name: n, arch: presetArch(n) };
}

export interface FlopsRow {
  mag: string;
  /** Input [H, W] of one tile. */
  inputSize: [number, number];
  /** Pixels of one tile: H * W. */
  inputPx: number;
  /** Exact counts (FLOPs per tile); the *Gflops fields are the same divided by 1e9. */
  forwardFlops: number;
  trainStepFlops: number;
  studentBackwardFlops: number;
  forwardGflops: number;
  /** Teacher forward at the top magnification + student forward and backward at this one. */
  trainStepGflops: number;
  studentBackwardGflops: number;
  params: number;
  /** Student's float32 activations kept for its backward pass, bytes per tile. */
  trainActivationBytes: number;
  /** forwardGflops / forwardGflops at the top magnification. */
  relForward: number;
  /** trainStepGflops / trainStepGflops at the top magnification. */
  relTrainStep: number;
}

/** Training-step FLOPs of the distillation step, in FLOPs (not G), from two counter reports. */
export function distillStepFlops(teacherAtTop: FlopReport, student: FlopReport): number {
  return teacherAtTop.total.forwardFlops + student.total.forwardFlops + student.total.backwardFlops;
}

/** The cost table: one row per magnification, per tile (batch 1). */
export function flopsRows(arch: ResNetArch, inputs: MagInput[]): FlopsRow[] {
  const teacher = countFlops(arch, inputs[0].size);
  const reports = inputs.map((m) => countFlops(arch, m.size));
  const topForward = reports[0].total.forwardFlops;
  const topStep = distillStepFlops(teacher, reports[0]);
  return inputs.map((m, i) => {
    const r = reports[i];
    const step = distillStepFlops(teacher, r);
    return {
      mag: m.mag, inputSize: m.size, inputPx: m.size[0] * m.size[1],
      forwardFlops: r.total.forwardFlops, trainStepFlops: step, studentBackwardFlops: r.total.backwardFlops,
      forwardGflops: r.total.forwardFlops / 1e9, trainStepGflops: step / 1e9, studentBackwardGflops: r.total.backwardFlops / 1e9,
      params: r.total.params, trainActivationBytes: r.total.activationBytes,
      relForward: r.total.forwardFlops / topForward, relTrainStep: step / topStep,
    };
  });
}

export function formatFlopsRows(rows: FlopsRow[]): string {
  const head = ['mag', 'input', 'pixels', 'fwd GFLOPs', 'train-step GFLOPs', 'params', 'train act. mem', 'fwd cost vs top', 'step cost vs top'];
  const cells = rows.map((r) => [
    r.mag, `${r.inputSize[0]}x${r.inputSize[1]}`, String(r.inputPx), fmtNum(r.forwardGflops, 4), fmtNum(r.trainStepGflops, 4),
    String(r.params), fmtBytes(r.trainActivationBytes), `1/${fmtNum(1 / r.relForward, 3)}`, `1/${fmtNum(1 / r.relTrainStep, 3)}`,
  ]);
  return textTable(head, cells, numericColumns(head.length, 2));
}

export const summary = 'FLOPs, parameters and activation memory per magnification, from the layer shapes';

export const help = `usage: rbd bench flops [--mags LIST] [--tile N] [--arch NAME] [--json FILE]

Counts, from the real layer shapes (models/flops.ts), what one tile costs at each magnification:
input pixels, forward GFLOPs, distillation training-step GFLOPs (teacher forward at the top
magnification without gradients + student forward and backward at this one), parameters, the
student's training activation memory, and the cost relative to the top magnification.
A tile is N pixels square at the top magnification and N/f at a magnification f times lower.
No GPU is used. FLOPs: 2 per multiply-add (conventions in models/flops.ts).

  --mags LIST    magnifications, comma-separated (default ${DEFAULT_MAGS}); the highest is the teacher's
  --tile N       tile side in pixels at the top magnification (default ${DEFAULT_TILE})
  --arch NAME    architecture preset: ${Object.keys(PRESETS).join(' | ')} (default rbd)
  --json FILE    also write the table as JSON (with adapter: null, versions, commit, command line, date)
`;

export async function run(argv: string[]): Promise<number> {
  const cmd = 'bench flops';
  const { values } = parseFlags(cmd, argv, { mags: { type: 'string' }, tile: { type: 'string' }, arch: { type: 'string' }, json: { type: 'string' } });
  const tile = numberFlag(cmd, 'tile', values.tile, DEFAULT_TILE, { min: 1, integer: true });
  const inputs = magInputs(cmd, values.mags ?? DEFAULT_MAGS, tile);
  const { name, arch } = archFlag(cmd, values.arch);
  const rows = flopsRows(arch, inputs);
  console.log(`architecture ${name}: planes ${arch.planes.join(',')} layers ${arch.layers.join(',')}, ${arch.numClasses} classes; tile ${tile}px at ${inputs[0].mag}; per tile (batch 1)`);
  console.log(formatFlopsRows(rows));
  console.log('FLOPs: 2 per multiply-add; train step = teacher forward at the top magnification + student forward + backward (loss ops and optimizer update not counted).');
  if (values.json) {
    writeJson(values.json, { ...benchMeta(null, cmd, {}), arch: { preset: name, ...arch }, tile, results: rows });
    console.log(`wrote ${values.json}`);
  }
  return 0;
}
