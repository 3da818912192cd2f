/**
 * relu(x): max(x, 0) elementwise, any shape. Backward: dy where y > 0, else 0 (the gradient at
 * exactly 0 is 0, as in PyTorch). Backward keeps the output, not the input.
 */
import { Tensor } from '../tensor.ts';
import { dispatch, elementwiseWorkgroupSize, namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { ELEMENTWISE_ITEMS, elementwiseGroups } from './launch.ts';

/** `vec4`: the entry points that access 4 elements at a time (need size % 4 == 0; CPU adapters pay per access, not per byte). */
function spec(entry: 'forward' | 'backward', vec4: boolean): KernelSpec {
  const name = entry === 'forward' ? 'reluForward' : 'reluBackward';
  return {
    name,
    file: 'elementwise/relu.wgsl',
    entry: vec4 ? `${entry}Vec4` : entry,
    overrides: { WG: elementwiseWorkgroupSize(), ITEMS: ELEMENTWISE_ITEMS },
  };
}

function reluImpl(x: Tensor): Tensor {
  if (x.dtype !== 'f32') throw new ShapeError('relu', `input ${x.label} must be f32`);
  const y = Tensor.empty(x.shape);
  const vec4 = x.size % 4 === 0;
  // Invocations cover ITEMS accesses of 4 (vec4) or 1 element(s) each.
  const accesses = vec4 ? x.size / 4 : x.size;
  const fwd = spec('forward', vec4);
  dispatch(fwd, vec4 ? { x4: x, y4: y } : { x, y }, { n: x.size }, elementwiseGroups(accesses, fwd.overrides!.WG));
  if (needsGrad(x)) {
    const ySaved = save(y);
    record(
      'relu',
      y,
      [x],
      (dy) => {
        const dx = Tensor.empty(x.shape);
        const bwd = spec('backward', vec4);
        dispatch(
          bwd,
          vec4 ? { y_saved4: ySaved, dy4: dy, dx4: dx } : { y_saved: ySaved, dy, dx },
          { n: x.size },
          elementwiseGroups(accesses, bwd.overrides!.WG),
        );
        return [dx];
      },
      [ySaved],
    );
  }
  return y;
}
export const relu = namedOp('relu', reluImpl);
