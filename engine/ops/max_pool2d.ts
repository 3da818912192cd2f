/**
 * maxPool2d(x [N,C,H,W], { kernel, stride = kernel, padding = 0 }) -> [N,C,OH,OW], PyTorch
 * max_pool2d semantics: padding acts as -infinity, OH = floor((H + 2*pad - KH) / stride) + 1,
 * ties go to the first maximum in row-major window order.
 * Backward: each output's gradient goes to the input it chose; overlapping windows accumulate.
 * Keeps only the chosen indices (i32, N,C,OH,OW) for backward.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { elementwiseWorkgroupSize, namedOp } from '../runtime.ts';
import { argmaxPool } from './argmax_pool.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { nchw, pair } from './launch.ts';

export interface MaxPool2dOptions {
  kernel: number | [number, number];
  /** Default: the kernel size. */
  stride?: number | [number, number];
  /** Default 0; at most half the kernel size (as PyTorch requires). */
  padding?: number | [number, number];
}

function spec(entry: 'forward' | 'forward3x3s2' | 'backward' | 'backwardVec4'): KernelSpec {
  return {
    name: entry.startsWith('forward') ? 'maxPool2dForward' : 'maxPool2dBackward',
    file: 'pool/max_pool2d.wgsl',
    entry,
    overrides: { WG: elementwiseWorkgroupSize() },
  };
}

function maxPool2dImpl(x: Tensor, opts: MaxPool2dOptions): Tensor {
  const [n, c, h, w] = nchw('maxPool2d', x);
  const input = `input ${shapeStr(x.shape)}`;
  const kernel = pair('maxPool2d', 'kernel', opts.kernel, 1, input);
  const stride = pair('maxPool2d', 'stride', opts.stride ?? kernel, 1, input);
  const padding = pair('maxPool2d', 'padding', opts.padding ?? 0, 0, input);
  const desc = `${input}, kernel ${shapeStr(kernel)}, stride ${shapeStr(stride)}, padding ${shapeStr(padding)}`;
  if (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2) {
    throw new ShapeError('maxPool2d', `padding must be at most half the kernel size (${desc})`);
  }
  if (kernel[0] > h + 2 * padding[0] || kernel[1] > w + 2 * padding[1]) {
    throw new ShapeError('maxPool2d', `kernel larger than the padded input (${desc}); use a smaller kernel or more padding`);
  }
  const oh = Math.floor((h + 2 * padding[0] - kernel[0]) / stride[0]) + 1;
  const ow = Math.floor((w + 2 * padding[1] - kernel[1]) / stride[1]) + 1;
  const uniforms = { planes: n * c, in_size: [h, w], out_size: [oh, ow], kernel, stride, padding };
  // The backward kernel gathers for a 4x4 cell of inputs per invocation; with W % 4 == 0 each
  // cell row is stored as one vec4 (binding dx4).
  const cells = n * c * Math.ceil(h / 4) * Math.ceil(w / 4);
  const backward =
    w % 4 === 0
      ? { backward: spec('backwardVec4'), backwardInvocations: cells, dxBinding: 'dx4' }
      : { backward: spec('backward'), backwardInvocations: cells };
  // The stem pool (3x3, stride 2, padding 1) on rows of whole vec4 pairs: 4 outputs per
  // invocation from vec4 loads (kernels/pool/max_pool2d.wgsl forward3x3s2).
  const stemPool = kernel.every((k) => k === 3) && stride.every((s) => s === 2) && padding.every((p) => p === 1) && w % 8 === 0;
  const forward = stemPool
    ? { forward: spec('forward3x3s2'), forwardInvocations: n * c * oh * (ow / 4), vec4Forward: true }
    : { forward: spec('forward') };
  return argmaxPool('maxPool2d', { ...forward, ...backward }, x, [n, c, oh, ow], uniforms);
}
export const maxPool2d = namedOp('maxPool2d', maxPool2dImpl);
