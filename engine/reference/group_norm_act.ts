// Reference groupNormRelu, float64: y = relu(groupNorm(x) + residual), residual optional.
// x, residual, dy, dx, dresidual: N,C,H,W.  weight, bias: C.  (GroupNorm as in ./group_norm.ts.)
// Backward: dz = dy where y > 0, else 0 (0 at exactly 0, as PyTorch); dresidual = dz; dx,
// dweight, dbias are GroupNorm's gradients with upstream dz.
import { groupNormForward, groupNormBackward, type GroupNormShape } from './group_norm.ts';

export function groupNormReluForward(
  x: Float64Array,
  weight: Float64Array,
  bias: Float64Array,
  residual: Float64Array | null,
  s: GroupNormShape,
): Float64Array {
  const v = groupNormForward(x, weight, bias, s);
  return v.map((e, i) => Math.max(e + (residual ? residual[i] : 0), 0));
}

export function groupNormReluBackward(
  x: Float64Array,
  weight: Float64Array,
  bias: Float64Array,
  residual: Float64Array | null,
  dy: Float64Array,
  s: GroupNormShape,
) {
  const y = groupNormReluForward(x, weight, bias, residual, s);
  const dz = dy.map((d, i) => (y[i] > 0 ? d : 0));
  return { ...groupNormBackward(x, weight, dz, s), dresidual: dz };
}
