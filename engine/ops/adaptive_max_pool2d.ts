/**
 * adaptiveMaxPool2d(x [N,C,H,W], [OH, OW]) -> [N,C,OH,OW], PyTorch bins: output i spans
 * [floor(i*H/OH), ceil((i+1)*H/OH)); bins may overlap. Ties go to the first maximum in row-major
 * bin order. Backward: each output's gradient goes to the input it chose; overlapping bins
 * accumulate. Keeps only the chosen indices (i32, N,C,OH,OW) for backward.
 */
import { Tensor } from '../tensor.ts';
import { elementwiseWorkgroupSize, namedOp } from '../runtime.ts';
import { argmaxPool } from './argmax_pool.ts';
import type { KernelSpec } from '../kernel.ts';
import { nchw, outputSize } from './launch.ts';

function spec(entry: 'forward' | 'backward'): KernelSpec {
  const name = entry === 'forward' ? 'adaptiveMaxPool2dForward' : 'adaptiveMaxPool2dBackward';
  return { name, file: 'pool/adaptive_max_pool2d.wgsl', entry, overrides: { WG: elementwiseWorkgroupSize() } };
}

function adaptiveMaxPool2dImpl(x: Tensor, size: [number, number]): Tensor {
  const [n, c, h, w] = nchw('adaptiveMaxPool2d', x);
  const [oh, ow] = outputSize('adaptiveMaxPool2d', size, x);
  const uniforms = { planes: n * c, in_size: [h, w], out_size: [oh, ow] };
  return argmaxPool('adaptiveMaxPool2d', { forward: spec('forward'), backward: spec('backward') }, x, [n, c, oh, ow], uniforms);
}
export const adaptiveMaxPool2d = namedOp('adaptiveMaxPool2d', adaptiveMaxPool2dImpl);
