/**
 * crossEntropy(logits [N,C], labels [N]) -> [1]: mean over the batch of
 *   logsumexp(logits[n]) - logits[n, labels[n]]   (PyTorch's cross_entropy, reduction "mean").
 * Backward: d/d logits[n,j] = (softmax(logits[n])_j - [j == labels[n]]) / N times the upstream gradient.
 *
 * Labels: host integers (number[] / Int32Array), checked before dispatch (an out-of-range or
 * non-integer label throws, naming the row), or an i32 tensor already on the GPU, whose values
 * cannot be read without a sync: there an out-of-range label makes that row's loss and gradient
 * NaN, so the loss becomes NaN instead of silently reading another row's logits.
 * Kernels: kernels/loss/cross_entropy.wgsl (per-row loss, gradient), then kernels/reduce/scaled_total.wgsl.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { checkLogits } from './softmax.ts';
import { reductionWorkgroupSize, scaledTotal } from './workgroup_reduce.ts';

function spec(entry: 'ceRowForward' | 'ceBackward', cols: number): KernelSpec {
  return { name: entry, file: 'loss/cross_entropy.wgsl', entry, overrides: { WG: reductionWorkgroupSize(cols) } };
}

/** Upload host labels after checking every one is a class index in [0, classes). */
function uploadLabels(labels: ArrayLike<number>, rows: number, classes: number): Tensor {
  for (let n = 0; n < labels.length; n++) {
    const c = labels[n];
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new ShapeError(
        'crossEntropy',
        `label ${c} of row ${n} is not a class index in [0, ${classes}) for logits [${rows},${classes}]; check the dataset's class count`,
      );
    }
  }
  return Tensor.from(labels, [rows], 'i32');
}

/** Mean cross-entropy of logits [N,C] against class labels [N] (host integers or an i32 tensor). */
function crossEntropyImpl(logits: Tensor, labels: Tensor | ArrayLike<number>): Tensor {
  checkLogits('crossEntropy', logits, 1);
  const [rows, cols] = logits.shape;
  const count = labels instanceof Tensor ? labels.size : labels.length;
  if (count !== rows || (labels instanceof Tensor && (labels.dtype !== 'i32' || labels.rank !== 1))) {
    const got = labels instanceof Tensor ? labels.label : `${labels.length} host labels`;
    throw new ShapeError(
      'crossEntropy',
      `labels must be ${rows} class indices (an i32 tensor [${rows}] or a host array) for logits ${shapeStr(logits.shape)}, got ${got}`,
    );
  }
  const labelTensor = labels instanceof Tensor ? labels : uploadLabels(labels, rows, cols);
  const rowLoss = Tensor.empty([rows]);
  dispatch(spec('ceRowForward', cols), { logits, labels: labelTensor, row_loss: rowLoss }, { rows, cols, scale: 0, invalid: NaN }, rows);
  const loss = scaledTotal(rowLoss, 1 / rows);
  rowLoss.dispose();
  if (needsGrad(logits)) {
    const x = save(logits);
    const y = save(labelTensor);
    record(
      'crossEntropy',
      loss,
      [logits],
      (gradLoss) => {
        const dlogits = Tensor.empty(logits.shape);
        dispatch(
          spec('ceBackward', cols),
          { logits: x, labels: y, grad_loss: gradLoss, dlogits },
          { rows, cols, scale: 1 / rows, invalid: NaN },
          rows,
        );
        return [dlogits];
      },
      [x, y],
    );
  }
  // Labels uploaded here are ours to release (a saved handle keeps them for backward).
  if (labelTensor !== labels) labelTensor.dispose();
  return loss;
}
export const crossEntropy = namedOp('crossEntropy', crossEntropyImpl);
