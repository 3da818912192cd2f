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
import type { ResNetArch } from '../models/arch.ts';
import { downsampleFactor, byDescendingMag, type Mag } from '../data/mag.ts';
import { textTable, numericColumns, fmtNum, fmtBytes } from '../util/table.ts';

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
 * Benchmark inputs for magnifications (any order; highest first in the result) and a tile side
 * in pixels at the highest one. Throws when a magnification is not a whole-number reduction of
 * the top one or the tile is not divisible by the factor.
 */
export function magInputs(mags: Mag[], tile: number): MagInput[] {
  const sorted = [...mags].sort(byDescendingMag);
  const top = sorted[0];
  return sorted.map((m) => {
    const factor = downsampleFactor(top, m);
    if (tile % factor !== 0)
      throw new Error(
        `tile ${tile} is not divisible by ${factor} (${top.name} -> ${m.name}); choose a tile that is a multiple of ${factor}`,
      );
    return { mag: m.name, value: m.value, factor, size: [tile / factor, tile / factor] };
  });
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
      mag: m.mag,
      inputSize: m.size,
      inputPx: m.size[0] * m.size[1],
      forwardFlops: r.total.forwardFlops,
      trainStepFlops: step,
      studentBackwardFlops: r.total.backwardFlops,
      forwardGflops: r.total.forwardFlops / 1e9,
      trainStepGflops: step / 1e9,
      studentBackwardGflops: r.total.backwardFlops / 1e9,
      params: r.total.params,
      trainActivationBytes: r.total.activationBytes,
      relForward: r.total.forwardFlops / topForward,
      relTrainStep: step / topStep,
    };
  });
}

export function formatFlopsRows(rows: FlopsRow[]): string {
  const head = [
    'mag',
    'input',
    'pixels',
    'fwd GFLOPs',
    'train-step GFLOPs',
    'params',
    'train act. mem',
    'fwd cost vs top',
    'step cost vs top',
  ];
  const cells = rows.map((r) => [
    r.mag,
    `${r.inputSize[0]}x${r.inputSize[1]}`,
    String(r.inputPx),
    fmtNum(r.forwardGflops, 4),
    fmtNum(r.trainStepGflops, 4),
    String(r.params),
    fmtBytes(r.trainActivationBytes),
    `1/${fmtNum(1 / r.relForward, 3)}`,
    `1/${fmtNum(1 / r.relTrainStep, 3)}`,
  ]);
  return textTable(head, cells, numericColumns(head.length, 2));
}
