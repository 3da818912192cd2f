/**
 * Launch geometry and argument checks shared by the activation, normalization, pooling and
 * resizing ops: the elementwise items-per-invocation layout, and the NCHW / pair checks every
 * spatial op starts with, and the workgroup size of the kernels where one workgroup reduces a
 * long run (a norm group, a channel, a pooling bin).
 */
import { groupsFor } from '../runtime.ts';
import { Tensor, shapeStr } from '../tensor.ts';
import { ShapeError } from '../errors.ts';
import { reductionWorkgroupSize } from './workgroup_reduce.ts';

/** Elements per invocation in the elementwise kernels (relu, scale, ...): amortizes index math. */
export const ELEMENTWISE_ITEMS = 4;

/** Workgroups covering n elements, `ELEMENTWISE_ITEMS` per invocation, `wg` invocations per group. */
export function elementwiseGroups(n: number, wg: number): number {
  return groupsFor(n, wg * ELEMENTWISE_ITEMS);
}

/**
 * Workgroup size for one workgroup reducing `length` elements: at least ~16 elements per
 * invocation, and at most 64 invocations: a CPU adapter runs a workgroup as loops split at
 * each barrier, and large workgroups pay for every tree level (on lavapipe 64 beat 256 on every
 * slab length the model has); 64 is also a full wave on common GPUs. A power of two within the device's limits.
 */
export function longReductionWorkgroupSize(length: number): number {
  return Math.min(64, reductionWorkgroupSize(Math.ceil(length / 16)));
}

/** [h, w] from a number or a pair, checked to be whole numbers >= min; `context` names the input for messages. */
export function pair(op: string, what: string, v: number | [number, number], min: number, context: string): [number, number] {
  const p: number[] = typeof v === 'number' ? [v, v] : Array.isArray(v) ? [...v] : [NaN];
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new ShapeError(op, `${what} ${JSON.stringify(v)} must be a whole number >= ${min} or a pair [h, w] of them (${context})`);
  }
  return [p[0], p[1]];
}

/** Check that x is a rank-4 f32 tensor (N,C,H,W) and return its dimensions. */
export function nchw(op: string, x: Tensor): [number, number, number, number] {
  if (x.rank !== 4) throw new ShapeError(op, `input ${shapeStr(x.shape)} must be 4-D (N,C,H,W)`);
  if (x.dtype !== 'f32') throw new ShapeError(op, `input ${x.label} must be f32`);
  return [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
}

/** Check a requested output size [oh, ow]: whole numbers >= 1. */
export function outputSize(op: string, size: [number, number], input: Tensor): [number, number] {
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ShapeError(op, `output size ${JSON.stringify(size)} for input ${shapeStr(input.shape)} must be two whole numbers >= 1`);
  }
  return [size[0], size[1]];
}
