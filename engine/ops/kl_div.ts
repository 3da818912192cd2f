/**
 * klDivDistill(student [N,C], teacher [N,C], T): the soft term of the distillation loss,
 *   KLDiv(log_softmax(student / T), softmax(teacher / T)), reduction "batchmean", times T^2
 *   = T^2 / N * sum_{n,j} pt[n,j] * (log pt[n,j] - log ps[n,j]),   a term with pt = 0 counting 0,
 * as a [1] tensor. The total is divided by N (batchmean), not N*C.
 * Backward: d/d student[n,j] = T * (ps[n,j] - pt[n,j]) / N times the upstream gradient; the teacher
 * gets no gradient (it is frozen; pass its logits from a noGrad forward or detach them).
 * Kernels: kernels/loss/kl_div.wgsl (per-row KL, gradient), then kernels/reduce/scaled_total.wgsl.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { checkLogits } from './softmax.ts';
import { reductionWorkgroupSize, scaledTotal } from './workgroup_reduce.ts';

function spec(entry: 'klRowForward' | 'klBackward', cols: number): KernelSpec {
  return { name: entry, file: 'loss/kl_div.wgsl', entry, overrides: { WG: reductionWorkgroupSize(cols) } };
}

/** T^2 * batchmean KL(softmax(teacher/T) || softmax(student/T)); gradient to the student only. */
function klDivDistillImpl(student: Tensor, teacher: Tensor, T = 1): Tensor {
  checkLogits('klDivDistill', student, T);
  checkLogits('klDivDistill', teacher, T);
  if (student.shape[0] !== teacher.shape[0] || student.shape[1] !== teacher.shape[1]) {
    throw new ShapeError(
      'klDivDistill',
      `student logits ${shapeStr(student.shape)} and teacher logits ${shapeStr(teacher.shape)} must have the same [N,C] shape`,
    );
  }
  const [rows, cols] = student.shape;
  const rowLoss = Tensor.empty([rows]);
  dispatch(spec('klRowForward', cols), { s: student, t: teacher, row_loss: rowLoss }, { rows, cols, temperature: T, scale: 0 }, rows);
  const loss = scaledTotal(rowLoss, (T * T) / rows);
  rowLoss.dispose();
  if (needsGrad(student)) {
    const s = save(student);
    const t = save(teacher);
    record(
      'klDivDistill',
      loss,
      [student],
      (gradLoss) => {
        const ds = Tensor.empty(student.shape);
        dispatch(spec('klBackward', cols), { s, t, grad_loss: gradLoss, ds }, { rows, cols, temperature: T, scale: T / rows }, rows);
        return [ds];
      },
      [s, t],
    );
  }
  return loss;
}
export const klDivDistill = namedOp('klDivDistill', klDivDistillImpl);
