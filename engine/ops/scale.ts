/**
 * scale(x, alpha): alpha * x elementwise, any shape. Backward: dx = alpha * dy (same kernel).
 */
import { Tensor } from '../tensor.ts';
import { dispatch, elementwiseWorkgroupSize, namedOp } from '../runtime.ts';
import { needsGrad, record } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { ELEMENTWISE_ITEMS, elementwiseGroups } from './launch.ts';

function scaled(name: string, x: Tensor, alpha: number): Tensor {
  const spec: KernelSpec = {
    name,
    file: 'elementwise/scale.wgsl',
    overrides: { WG: elementwiseWorkgroupSize(), ITEMS: ELEMENTWISE_ITEMS },
  };
  const y = Tensor.empty(x.shape);
  dispatch(spec, { x, y }, { n: x.size, alpha }, elementwiseGroups(x.size, spec.overrides!.WG));
  return y;
}

function scaleImpl(x: Tensor, alpha: number): Tensor {
  if (x.dtype !== 'f32') throw new ShapeError('scale', `input ${x.label} must be f32`);
  if (!Number.isFinite(alpha)) throw new ShapeError('scale', `factor ${alpha} for input ${x.label} must be a finite number`);
  const y = scaled('scaleForward', x, alpha);
  if (needsGrad(x)) record('scale', y, [x], (dy) => [scaled('scaleBackward', dy, alpha)]);
  return y;
}
export const scale = namedOp('scale', scaleImpl);
