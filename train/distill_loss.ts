/**
 * The distillation loss of resolution-based distillation (DiPalma et al., arXiv 2101.04170), for
 * one micro-batch:
 *
 *   loss = wSoft * T^2 * KLDiv(log_softmax(s/T), softmax(t/T)) [batchmean]
 *        + wPixel * pixel(student features, resize(teacher features))
 *        + wCe * crossEntropy(s, labels)                      (optional, default weight 0)
 *
 * Shapes: logits [N, C]; stage-4 features: student [N, F, hs, ws], teacher [N, F, ht, wt]
 * with ht >= hs, wt >= ws (the teacher saw more pixels of the same tissue).
 *
 * Resize of the teacher's map to [hs, ws]:
 *   'maxpool'          adaptive max pool
 *   'bicubic'          bicubic interpolation (align_corners false, A = -0.75, no antialias)
 *   'maxpool+bicubic'  the average of the two. The official code's branch logic applies only the
 *                      max-pool half and then halves it; we implement the intended average.
 * The teacher's outputs carry no graph (computed under noGrad): gradients reach the student only.
 */
import { type Tensor, shapeStr } from '../engine/tensor.ts';
import { ShapeError } from '../engine/errors.ts';
import { add, copyOf } from '../engine/ops/add.ts';
import { scale } from '../engine/ops/scale.ts';
import { klDivDistill } from '../engine/ops/kl_div.ts';
import { mseLoss } from '../engine/ops/mse_loss.ts';
import { l1Loss } from '../engine/ops/l1_loss.ts';
import { crossEntropy } from '../engine/ops/cross_entropy.ts';
import { adaptiveMaxPool2d } from '../engine/ops/adaptive_max_pool2d.ts';
import { bicubicResize } from '../engine/ops/bicubic_resize.ts';
import type { ResNetOutput } from '../models/resnet.ts';

export type PixelResize = 'maxpool' | 'bicubic' | 'maxpool+bicubic';
export type PixelLossKind = 'l2' | 'l1';
export const PIXEL_RESIZES: PixelResize[] = ['maxpool', 'bicubic', 'maxpool+bicubic'];

export interface DistillLossOptions {
  temperature: number;
  softWeight: number;
  pixelWeight: number;
  pixelLoss: PixelLossKind;
  resize: PixelResize;
  ceWeight: number;
}

export const DEFAULT_DISTILL_LOSS: DistillLossOptions = {
  temperature: 1,
  softWeight: 1,
  pixelWeight: 1,
  pixelLoss: 'l2',
  resize: 'maxpool+bicubic',
  ceWeight: 0,
};

/** The teacher's feature map [N, F, ht, wt] resized to [hs, ws]. */
export function resizeTeacherMap(teacher: Tensor, size: [number, number], mode: PixelResize): Tensor {
  if (mode === 'maxpool') return adaptiveMaxPool2d(teacher, size);
  if (mode === 'bicubic') return bicubicResize(teacher, size);
  return scale(add(adaptiveMaxPool2d(teacher, size), bicubicResize(teacher, size)), 0.5);
}

export interface DistillLosses {
  loss: Tensor;
  parts: Record<string, Tensor>;
}

/**
 * The weighted sum and its parts (soft, pixel, ce: each unweighted, for the log). Terms with
 * weight 0 are not computed. The cross-entropy term applies only to batches with `labels`
 * (unlabeled images have none).
 */
export function distillLoss(
  student: ResNetOutput,
  teacher: ResNetOutput,
  o: DistillLossOptions,
  labels?: ArrayLike<number>,
): DistillLosses {
  const [n, f, hs, ws] = student.features.shape;
  const [tn, tf, ht, wt] = teacher.features.shape;
  if (tn !== n || tf !== f || ht < hs || wt < ws) {
    throw new ShapeError(
      'distillLoss',
      `teacher features ${shapeStr(teacher.features.shape)} must have the student's batch and channels and at least its spatial size (student features ${shapeStr(student.features.shape)})`,
    );
  }
  const terms: Tensor[] = [];
  const parts: Record<string, Tensor> = {};
  if (o.softWeight > 0) {
    parts.soft = klDivDistill(student.logits, teacher.logits, o.temperature);
    terms.push(scale(parts.soft, o.softWeight));
  }
  if (o.pixelWeight > 0) {
    const target = resizeTeacherMap(teacher.features, [hs, ws], o.resize);
    parts.pixel = o.pixelLoss === 'l2' ? mseLoss(student.features, target) : l1Loss(student.features, target);
    terms.push(scale(parts.pixel, o.pixelWeight));
  }
  if (o.ceWeight > 0 && labels) {
    parts.ce = crossEntropy(student.logits, labels);
    terms.push(scale(parts.ce, o.ceWeight));
  }
  if (terms.length === 0) throw new Error('distillLoss: every loss weight is 0; set --soft-weight or --pixel-weight above 0');
  const loss = terms.reduce((a, b) => add(a, b));
  // Graph-free copies of the logged parts, so logging them keeps no graph alive.
  return { loss, parts: Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, copyOf(t)])) };
}
