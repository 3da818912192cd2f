/**
 * accumulate(acc, b): acc += b in place, with no graph: how autograd sums the gradients that
 * reach one tensor. It sits below autograd (which the ops import), so it is not an op; it runs
 * the `accumulate` entry points of add.wgsl (flat, n elements; the vec4 entry when n % 4 == 0).
 */
import { Tensor, shapeStr } from './tensor.ts';
import { dispatch, elementwiseWorkgroupSize, groupsFor } from './runtime.ts';
import { ShapeError } from './errors.ts';
import type { KernelSpec } from './kernel.ts';

function spec(vec4: boolean): KernelSpec {
  return {
    name: 'accumulate',
    file: 'elementwise/add.wgsl',
    entry: vec4 ? 'accumulateVec4' : 'accumulate',
    overrides: { WG: elementwiseWorkgroupSize() },
  };
}

/** acc += b, in place (same shape, f32). */
export function accumulate(acc: Tensor, b: Tensor) {
  if (acc.size !== b.size || acc.shape.length !== b.shape.length || acc.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError('accumulate', `shapes differ: ${shapeStr(acc.shape)} and ${shapeStr(b.shape)}`);
  }
  if (acc.dtype !== 'f32' || b.dtype !== 'f32') throw new ShapeError('accumulate', `needs f32 tensors, got ${acc.dtype} and ${b.dtype}`);
  const vec4 = acc.size % 4 === 0;
  const s = spec(vec4);
  dispatch(s, vec4 ? { b4: b, acc4: acc } : { b, acc }, { n: acc.size }, groupsFor(vec4 ? acc.size / 4 : acc.size, s.overrides!.WG));
}
