/**
 * areaDownsample(x [N,C,H,W], factor) -> [N,C,floor(H/F),floor(W/F)]: the mean of each F x F
 * block (avg_pool2d with kernel = stride = F; rows and columns that fill no whole block are
 * dropped). Backward: dy / F^2 spread over each block, 0 on dropped rows and columns.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, groupsFor, elementwiseWorkgroupSize, namedOp } from '../runtime.ts';
import { needsGrad, record } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { nchw } from './launch.ts';

function spec(entry: 'forward' | 'backward'): KernelSpec {
  return { name: entry === 'forward' ? 'areaDownsampleForward' : 'areaDownsampleBackward', file: 'resize/area_downsample.wgsl', entry, overrides: { WG: elementwiseWorkgroupSize() } };
}

function areaDownsampleImpl(x: Tensor, factor: number): Tensor {
  const [n, c, h, w] = nchw('areaDownsample', x);
  if (!Number.isInteger(factor) || factor < 1) {
    throw new ShapeError('areaDownsample', `factor ${factor} for input ${shapeStr(x.shape)} must be a whole number >= 1`);
  }
  if (factor > h || factor > w) {
    throw new ShapeError('areaDownsample', `factor ${factor} is larger than the input ${shapeStr(x.shape)}: no whole block fits; use a smaller factor`);
  }
  const oh = Math.floor(h / factor);
  const ow = Math.floor(w / factor);
  const uniforms = { planes: n * c, in_size: [h, w], out_size: [oh, ow], factor };
  const wg = elementwiseWorkgroupSize();
  const y = Tensor.empty([n, c, oh, ow]);
  dispatch(spec('forward'), { x, y }, uniforms, groupsFor(y.size, wg));
  if (needsGrad(x)) {
    record('areaDownsample', y, [x], (dy) => {
      const dx = Tensor.empty(x.shape);
      dispatch(spec('backward'), { dy, dx }, uniforms, groupsFor(x.size, wg));
      return [dx];
    });
  }
  return y;
}
export const areaDownsample = namedOp('areaDownsample', areaDownsampleImpl);
