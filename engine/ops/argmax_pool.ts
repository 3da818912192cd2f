/**
 * The forward/backward skeleton shared by the max pools (maxPool2d, adaptiveMaxPool2d): the
 * forward kernel writes y and the chosen input index per output (argmax, i32, N,C,OH,OW, the
 * index ih*W + iw within its plane); only argmax is kept for backward, where each input gathers
 * the gradients of the outputs that chose it. The two ops differ only in their kernels (window
 * vs. adaptive-bin geometry) and uniforms.
 */
import { Tensor } from '../tensor.ts';
import { dispatch, groupsFor, elementwiseWorkgroupSize, type UniformValue } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import type { KernelSpec } from '../kernel.ts';

/**
 * `backwardInvocations`: how many invocations the backward kernel needs (default one per input
 * element; maxPool2d's kernel takes a 4x4 cell of inputs per invocation); `dxBinding`: the name
 * the backward kernel binds dx under (default 'dx'; 'dx4' for a vec4 view). Likewise
 * `forwardInvocations` (default one per output) and `vec4Forward` (the forward binds x4, y4,
 * argmax4: vec4 views).
 */
export function argmaxPool(
  op: string,
  kernels: {
    forward: KernelSpec;
    backward: KernelSpec;
    forwardInvocations?: number;
    vec4Forward?: boolean;
    backwardInvocations?: number;
    dxBinding?: string;
  },
  x: Tensor,
  outShape: number[],
  uniforms: Record<string, UniformValue>,
): Tensor {
  const wg = elementwiseWorkgroupSize();
  const y = Tensor.empty(outShape);
  const argmax = Tensor.empty(outShape, 'i32');
  const forwardBuffers: Record<string, Tensor> = kernels.vec4Forward ? { x4: x, y4: y, argmax4: argmax } : { x, y, argmax };
  dispatch(kernels.forward, forwardBuffers, uniforms, groupsFor(kernels.forwardInvocations ?? y.size, wg));
  if (!needsGrad(x)) {
    argmax.dispose();
    return y;
  }
  const argmaxSaved = save(argmax);
  argmax.dispose();
  record(
    op,
    y,
    [x],
    (dy) => {
      const dx = Tensor.empty(x.shape);
      dispatch(
        kernels.backward,
        { argmax_saved: argmaxSaved, dy, [kernels.dxBinding ?? 'dx']: dx },
        uniforms,
        groupsFor(kernels.backwardInvocations ?? x.size, wg),
      );
      return [dx];
    },
    [argmaxSaved],
  );
  return y;
}
