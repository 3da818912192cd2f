/**
 * mseLoss(a, b) -> [1]: mean of (a - b)^2 over all elements (PyTorch's mse_loss, reduction "mean").
 * Backward: d/da = 2 (a - b) / numel, d/db = -2 (a - b) / numel, each where required.
 * Used for the distillation pixel loss (teacher's resized stage-4 map vs the student's).
 * Kernels: kernels/loss/mse_loss.wgsl, then kernels/reduce/scaled_total.wgsl.
 */
import type { Tensor } from '../tensor.ts';
import { namedOp } from '../runtime.ts';
import { elementwiseMeanLoss } from './elementwise_loss.ts';

const MSE = { op: 'mseLoss', kind: 'mse', file: 'loss/mse_loss.wgsl', gradFactor: 2 };

/** Mean squared error of two same-shape f32 tensors. */
function mseLossImpl(a: Tensor, b: Tensor): Tensor {
  return elementwiseMeanLoss(MSE, a, b);
}
export const mseLoss = namedOp('mseLoss', mseLossImpl);
