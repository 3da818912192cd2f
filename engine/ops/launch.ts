/**
 * Launch geometry and argument checks shared by the activation, normalization, pooling and
 * resizing ops: the elementwise items-per-invocation layout, and the NCHW / pair checks every
 * spatial op starts with. (Workgroup sizes: `elementwiseWorkgroupSize` in runtime.ts, and
 * `reductionWorkgroupSize` in workgroup_reduce.ts for kernels that reduce in shared memory.)
 */
import { groupsFor } from '../runtime.ts';
import { Tensor, shapeStr } from '../tensor.ts';
import { ShapeError } from '../errors.ts';

/** Elements per invocation in the elementwise kernels (relu, scale, ...): amortizes index math. */
export const ELEMENTWISE_ITEMS = 4;

/** Workgroups covering n elements, `ELEMENTWISE_ITEMS` per invocation, `wg` invocations per group. */
export function elementwiseGroups(n: number, wg: number): number {
  return groupsFor(n, wg * ELEMENTWISE_ITEMS);
}

/** [a, b] from a number or a pair, checked to be whole numbers >= min. */
export function pair(op: string, what: string, v: number | [number, number], min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new ShapeError(op, `${what} ${JSON.stringify(v)} must be a whole number >= ${min} or a pair of them`);
  }
  return p;
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
