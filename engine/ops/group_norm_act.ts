/**
 * groupNormRelu(x [N,C,H,W], weight [C], bias [C], groups, residual?, eps = 1e-5):
 *   y = relu(groupNorm(x, weight, bias) + residual)   (residual: x's shape, optional)
 * The ResNet's "norm -> ReLU" (stem, first half of a BasicBlock) and "norm -> + identity ->
 * ReLU" (end of a BasicBlock) in one op. The group-norm forward kernel writes y directly, so
 * the separate ReLU and add passes (each a dispatch and a full read and write of the
 * activation) disappear; on CPU adapters, where every storage access costs and small maps make
 * per-dispatch cost dominate, that is what the fusion saves.
 * Backward: the group-norm channelSums pass reads dy through the ReLU's mask (y > 0; the
 * gradient at exactly 0 is 0, as PyTorch) and writes the masked gradient dz once: it is the
 * residual's gradient and what backwardInput reads. Returns dx, dweight, dbias, dresidual (each
 * only where required); keeps x, weight, the per-block stats and y.
 * Same arithmetic as groupNorm then add then relu (kernels: norm/group_norm*.wgsl with the
 * norm/act_relu.wgsl or norm/act_add_relu.wgsl epilogue, declared in GROUP_NORM_VARIANTS).
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import { checkGroupNormArgs, groupNormBackwardPass, groupNormForwardPass } from './group_norm.ts';

function groupNormReluImpl(x: Tensor, weight: Tensor, bias: Tensor, groups: number, residual: Tensor | null = null, eps = 1e-5): Tensor {
  checkGroupNormArgs('groupNormRelu', x, weight, bias, groups, eps);
  if (residual && (residual.dtype !== 'f32' || residual.shape.length !== 4 || residual.shape.some((d, i) => d !== x.shape[i]))) {
    throw new ShapeError('groupNormRelu', `residual ${shapeStr(residual.shape)} must be f32 and of x's shape ${shapeStr(x.shape)}`);
  }
  const epilogue = residual ? 'addRelu' : 'relu';
  const { y, stats } = groupNormForwardPass(epilogue, x, weight, bias, residual, groups, eps);
  if (!needsGrad(x, weight, bias, ...(residual ? [residual] : []))) {
    stats.dispose();
    return y;
  }
  const saved = [save(x), save(weight), save(stats), save(y)];
  stats.dispose();
  const [xSaved, weightSaved, statsSaved, ySaved] = saved;
  const inputs = residual ? [x, weight, bias, residual] : [x, weight, bias];
  record(
    'groupNormRelu',
    y,
    inputs,
    (dy) => {
      const g = groupNormBackwardPass(epilogue, dy, xSaved, weightSaved, statsSaved, ySaved, groups, eps, {
        dx: x.requiresGrad,
        params: weight.requiresGrad || bias.requiresGrad,
      });
      if (!weight.requiresGrad) g.dweight?.dispose();
      if (!bias.requiresGrad) g.dbias?.dispose();
      const grads = [g.dx, weight.requiresGrad ? g.dweight : null, bias.requiresGrad ? g.dbias : null];
      if (residual?.requiresGrad) return [...grads, g.dz];
      g.dz!.dispose();
      return residual ? [...grads, null] : grads;
    },
    saved,
  );
  return y;
}
export const groupNormRelu = namedOp('groupNormRelu', groupNormReluImpl);
