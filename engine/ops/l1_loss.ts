/**
 * l1Loss(a, b) -> [1]: mean of |a - b| over all elements (PyTorch's l1_loss, reduction "mean").
 * Backward: d/da = sign(a - b) / numel, d/db = -sign(a - b) / numel, 0 at a tie, each where required.
 * The L1 variant of the distillation pixel loss.
 * Kernels: kernels/loss/l1_loss.wgsl, then kernels/reduce/scaled_total.wgsl.
 */
import type { Tensor } from '../tensor.ts';
import { namedOp } from '../runtime.ts';
import { elementwiseMeanLoss } from './elementwise_loss.ts';

const L1 = { op: 'l1Loss', kind: 'l1', file: 'loss/l1_loss.wgsl', gradFactor: 1 };

/** Mean absolute error of two same-shape f32 tensors. */
function l1LossImpl(a: Tensor, b: Tensor): Tensor {
  return elementwiseMeanLoss(L1, a, b);
}
export const l1Loss = namedOp('l1Loss', l1LossImpl);
