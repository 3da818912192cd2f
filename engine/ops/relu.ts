/**
 * relu(x): max(x, 0) elementwise, any shape. Backward: dy where y > 0, else 0 (the gradient at
 * exactly 0 is 0, as in PyTorch). Backward keeps the output, not the input.
 */
import { Tensor } from '../tensor.ts';
import { dispatch, elementwiseWorkgroupSize } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { ELEMENTWISE_ITEMS, elementwiseGroups } from './launch.ts';

function spec(entry: 'forward' | 'backward'): KernelSpec {
  const name = entry === 'forward' ? 'reluForward' : 'reluBackward';
  return { name, file: 'relu.wgsl', entry, overrides: { WG: elementwiseWorkgroupSize(), ITEMS: ELEMENTWISE_ITEMS } };
}

export function relu(x: Tensor): Tensor {
  if (x.dtype !== 'f32') throw new ShapeError('relu', `input ${x.label} must be f32`);
  const y = Tensor.empty(x.shape);
  const fwd = spec('forward');
  dispatch(fwd, { x, y }, { n: x.size }, elementwiseGroups(x.size, fwd.overrides!.WG));
  if (needsGrad(x)) {
    const ySaved = save(y);
    record('relu', y, [x], (dy) => {
      const dx = Tensor.empty(x.shape);
      const bwd = spec('backward');
      dispatch(bwd, { y_saved: ySaved, dy, dx }, { n: x.size }, elementwiseGroups(x.size, bwd.overrides!.WG));
      return [dx];
    }, [ySaved]);
  }
  return y;
}
