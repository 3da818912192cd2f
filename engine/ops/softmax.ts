/**
 * softmax(x, T) and logSoftmax(x, T) over the last dim of x [N,C], the input divided by the
 * temperature T (distillation softens both distributions with it). Numerically stable: the
 * row max is subtracted before exp, so logits of any magnitude stay finite.
 * Backward (y the op's output, dy the upstream gradient, per row):
 *   softmax:    dx = y * (dy - sum(dy * y)) / T
 *   logSoftmax: dx = (dy - softmax(x/T) * sum(dy)) / T,   softmax(x/T) = exp(y)
 * Kernels: kernels/loss/softmax.wgsl, one workgroup per row.
 */
import { Tensor } from '../tensor.ts';
import { dispatch, namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { reductionWorkgroupSize } from './workgroup_reduce.ts';

type Variant = 'softmax' | 'logSoftmax';

/** Throws unless x is an f32 [N,C] tensor with N, C >= 1 and T a finite number > 0. */
export function checkLogits(op: string, x: Tensor, T: number) {
  if (x.dtype !== 'f32' || x.rank !== 2 || x.shape[0] < 1 || x.shape[1] < 1) {
    throw new ShapeError(op, `needs f32 logits [N,C] with N >= 1 and C >= 1, got ${x.label}; reshape to [batch, classes] first`);
  }
  if (!(Number.isFinite(T) && T > 0)) throw new ShapeError(op, `temperature T must be a finite number > 0, got ${T}`);
}

function spec(variant: Variant, pass: 'Forward' | 'Backward', cols: number): KernelSpec {
  return {
    name: `${variant}${pass}`,
    file: 'loss/softmax.wgsl',
    entry: `${variant}${pass}`,
    overrides: { WG: reductionWorkgroupSize(cols) },
  };
}

function rowwise(variant: Variant, x: Tensor, T: number): Tensor {
  checkLogits(variant, x, T);
  const [rows, cols] = x.shape;
  const y = Tensor.empty(x.shape);
  dispatch(spec(variant, 'Forward', cols), { x, y }, { rows, cols, temperature: T }, rows);
  if (needsGrad(x)) {
    const ySaved = save(y);
    record(
      variant,
      y,
      [x],
      (dy) => {
        const dx = Tensor.empty(x.shape);
        dispatch(spec(variant, 'Backward', cols), { y_saved: ySaved, dy, dx }, { rows, cols, temperature: T }, rows);
        return [dx];
      },
      [ySaved],
    );
  }
  return y;
}

/** softmax(x / T) over the last dim. x: [N,C] f32. */
function softmaxImpl(x: Tensor, T = 1): Tensor {
  return rowwise('softmax', x, T);
}
export const softmax = namedOp('softmax', softmaxImpl);

/** log(softmax(x / T)) over the last dim, computed without forming softmax (stable). x: [N,C] f32. */
function logSoftmaxImpl(x: Tensor, T = 1): Tensor {
  return rowwise('logSoftmax', x, T);
}
export const logSoftmax = namedOp('logSoftmax', logSoftmaxImpl);
