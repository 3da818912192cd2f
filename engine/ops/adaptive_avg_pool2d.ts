/**
 * adaptiveAvgPool2d(x [N,C,H,W], [OH, OW]) -> [N,C,OH,OW], PyTorch bins: output i spans
 * [floor(i*H/OH), ceil((i+1)*H/OH)); bins may overlap; each output divides by its own bin size.
 * [1, 1] is global average pooling. Backward: each input gathers dy / bin size over the bins
 * containing it (overlapping bins accumulate). Nothing is kept for backward.
 */
import { Tensor } from '../tensor.ts';
import { dispatch, groupsFor, elementwiseWorkgroupSize, namedOp } from '../runtime.ts';
import { needsGrad, record } from '../autograd.ts';
import type { KernelSpec } from '../kernel.ts';
import { nchw, outputSize, longReductionWorkgroupSize } from './launch.ts';

/** Bins with more elements than this are reduced by a whole workgroup instead of one invocation. */
const WIDE_BIN = 64;

/** forwardWide reduces bins of up to `binSize` elements per workgroup; the others are one invocation per item. */
function spec(entry: 'forward' | 'forwardWide' | 'backward' | 'backwardGlobal', binSize = 0): KernelSpec {
  const name = {
    forward: 'adaptiveAvgPool2dForward',
    forwardWide: 'adaptiveAvgPool2dForwardWide',
    backward: 'adaptiveAvgPool2dBackward',
    backwardGlobal: 'adaptiveAvgPool2dBackwardGlobal',
  }[entry];
  return {
    name,
    file: 'pool/adaptive_avg_pool2d.wgsl',
    entry,
    overrides: { WG: entry === 'forwardWide' ? longReductionWorkgroupSize(binSize) : elementwiseWorkgroupSize() },
  };
}

/** The largest bin along an axis of `len` pooled to `out`: at most ceil(len/out) + 1. */
function largestBin(len: number, out: number): number {
  let most = 0;
  for (let i = 0; i < out; i++) most = Math.max(most, Math.ceil(((i + 1) * len) / out) - Math.floor((i * len) / out));
  return most;
}

function adaptiveAvgPool2dImpl(x: Tensor, size: [number, number]): Tensor {
  const [n, c, h, w] = nchw('adaptiveAvgPool2d', x);
  const [oh, ow] = outputSize('adaptiveAvgPool2d', size, x);
  const uniforms = { planes: n * c, in_size: [h, w], out_size: [oh, ow] };
  const wg = elementwiseWorkgroupSize();
  const y = Tensor.empty([n, c, oh, ow]);
  const binSize = largestBin(h, oh) * largestBin(w, ow);
  if (binSize > WIDE_BIN) dispatch(spec('forwardWide', binSize), { x, y }, uniforms, y.size);
  else dispatch(spec('forward'), { x, y }, uniforms, groupsFor(y.size, wg));
  if (needsGrad(x)) {
    record('adaptiveAvgPool2d', y, [x], (dy) => {
      const dx = Tensor.empty(x.shape);
      // Global pooling (the network's head) skips the bin search.
      dispatch(spec(oh === 1 && ow === 1 ? 'backwardGlobal' : 'backward'), { dy, dx }, uniforms, groupsFor(x.size, wg));
      return [dx];
    });
  }
  return y;
}
export const adaptiveAvgPool2d = namedOp('adaptiveAvgPool2d', adaptiveAvgPool2dImpl);
