/**
 * add(a, b): elementwise sum of two same-shape tensors (the residual connection).
 * Backward: dL/da = dL/db = dL/dy.
 * (add.wgsl's accumulate entries, acc += b in place, are engine/accumulate.ts: autograd uses them.)
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, elementwiseWorkgroupSize, groupsFor, namedOp } from '../runtime.ts';
import { needsGrad, record } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';

/** `vec4`: the entry points that access 4 elements at a time (need size % 4 == 0; CPU adapters pay per access, not per byte). */
function spec(vec4: boolean): KernelSpec {
  return {
    name: 'addForward',
    file: 'elementwise/add.wgsl',
    entry: vec4 ? 'addVec4' : 'add',
    overrides: { WG: elementwiseWorkgroupSize() },
  };
}

function sameShape(op: string, a: Tensor, b: Tensor) {
  if (a.size !== b.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(op, `shapes differ: ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  }
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new ShapeError(op, `needs f32 tensors, got ${a.dtype} and ${b.dtype}`);
}

/** out = a + b (same shape). */
function addImpl(a: Tensor, b: Tensor): Tensor {
  sameShape('add', a, b);
  const out = Tensor.empty(a.shape);
  const vec4 = a.size % 4 === 0;
  const s = spec(vec4);
  // `acc` is unused by this entry point, so reflection leaves it out of the layout.
  dispatch(s, vec4 ? { a4: a, b4: b, out4: out } : { a, b, out }, { n: a.size }, groupsFor(vec4 ? a.size / 4 : a.size, s.overrides!.WG));
  if (needsGrad(a, b)) {
    record('add', out, [a, b], (g) => [a.requiresGrad ? copyOf(g) : null, b.requiresGrad ? copyOf(g) : null]);
  }
  return out;
}
export const add = namedOp('add', addImpl);

/** A fresh copy (gradients handed to autograd must not alias each other). */
function copyOfImpl(t: Tensor): Tensor {
  const c = Tensor.empty(t.shape, t.dtype);
  c.copyFrom(t);
  return c;
}
export const copyOf = namedOp('copy', copyOfImpl);
