/**
 * bicubicResize(x [N,C,H,W], [OH, OW]) -> [N,C,OH,OW]: PyTorch interpolate(mode='bicubic',
 * align_corners=False) to a given size, A = -0.75, taps clamped to the edge, no antialiasing.
 * Works both ways (up and down, any ratio). Backward: the transpose of the forward, computed
 * as two deterministic gathers (along W into a [N,C,OH,W] scratch, then along H). Nothing is
 * kept for backward.
 */
import { Tensor } from '../tensor.ts';
import { dispatch, groupsFor, elementwiseWorkgroupSize, namedOp } from '../runtime.ts';
import { needsGrad, record } from '../autograd.ts';
import type { KernelSpec } from '../kernel.ts';
import { nchw, outputSize } from './launch.ts';

function spec(entry: 'forward' | 'backwardRows' | 'backwardCols'): KernelSpec {
  const name = { forward: 'bicubicResizeForward', backwardRows: 'bicubicResizeBackwardRows', backwardCols: 'bicubicResizeBackwardCols' }[
    entry
  ];
  return { name, file: 'resize/bicubic_resize.wgsl', entry, overrides: { WG: elementwiseWorkgroupSize() } };
}

function bicubicResizeImpl(x: Tensor, size: [number, number]): Tensor {
  const [n, c, h, w] = nchw('bicubicResize', x);
  const [oh, ow] = outputSize('bicubicResize', size, x);
  const uniforms = { planes: n * c, in_size: [h, w], out_size: [oh, ow] };
  const wg = elementwiseWorkgroupSize();
  const y = Tensor.empty([n, c, oh, ow]);
  dispatch(spec('forward'), { x, y }, uniforms, groupsFor(y.size, wg));
  if (needsGrad(x)) {
    record('bicubicResize', y, [x], (dy) => {
      const rowsGrad = Tensor.empty([n, c, oh, w]);
      dispatch(spec('backwardRows'), { dy, rows_grad: rowsGrad }, uniforms, groupsFor(rowsGrad.size, wg));
      const dx = Tensor.empty(x.shape);
      dispatch(spec('backwardCols'), { rows_grad_in: rowsGrad, dx }, uniforms, groupsFor(x.size, wg));
      return [dx];
    });
  }
  return y;
}
export const bicubicResize = namedOp('bicubicResize', bicubicResizeImpl);
