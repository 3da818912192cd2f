/**
 * add(a, b): elementwise sum of two same-shape tensors (the residual connection).
 * Backward: dL/da = dL/db = dL/dy.
 * accumulate(acc, b): acc += b in place, no graph (autograd sums gradients with it).
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, elementwiseWorkgroupSize, groupsFor } from '../runtime.ts';
import { needsGrad, record } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';

function spec(entry: 'add' | 'accumulate'): KernelSpec {
  return { name: entry === 'add' ? 'addForward' : 'accumulate', file: 'add.wgsl', entry, overrides: { WG: elementwiseWorkgroupSize() } };
}

function sameShape(op: string, a: Tensor, b: Tensor) {
  if (a.size !== b.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(op, `shapes differ: ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  }
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new ShapeError(op, `needs f32 tensors, got ${a.dtype} and ${b.dtype}`);
}

/** out = a + b (same shape). */
export function add(a: Tensor, b: Tensor): Tensor {
  sameShape('add', a, b);
  const out = Tensor.empty(a.shape);
  const s = spec('add');
  // `acc` is unused by this entry point, so reflection leaves it out of the layout.
  dispatch(s, { a, b, out }, { n: a.size }, groupsFor(a.size, s.overrides!.WG));
  if (needsGrad(a, b)) {
    record('add', out, [a, b], (g) => [a.requiresGrad ? copyOf(g) : null, b.requiresGrad ? copyOf(g) : null]);
  }
  return out;
}

/** acc += b, in place (no graph). */
export function accumulate(acc: Tensor, b: Tensor) {
  sameShape('accumulate', acc, b);
  const s = spec('accumulate');
  dispatch(s, { b, acc }, { n: acc.size }, groupsFor(acc.size, s.overrides!.WG));
}

/** A fresh copy (gradients handed to autograd must not alias each other). */
export function copyOf(t: Tensor): Tensor {
  const c = Tensor.empty(t.shape, t.dtype);
  c.copyFrom(t);
  return c;
}
