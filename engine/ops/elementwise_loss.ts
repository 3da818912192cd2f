/**
 * The shared body of the mean elementwise losses (mse_loss.ts, l1_loss.ts):
 *   loss = sum_i f(a[i] - b[i]) / n  as a [1] tensor,
 *   d loss / d a[i] = gradFactor * f'(a[i] - b[i]) / n,  d loss / d b[i] = the negative,
 * each only where that input requires grad. The kernel file defines f and f' (`loss_term`,
 * `loss_slope`) and includes kernels/loss/elementwise_loss.wgsl, whose entry points `partialSums`
 * (per-workgroup partial sums of f) and `backward` are dispatched here as `<kind>Partials` and
 * `<kind>Backward`.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, elementwiseWorkgroupSize, groupsFor } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { reductionWorkgroupSize, scaledTotal } from './workgroup_reduce.ts';

export interface ElementwiseLoss {
  /** Op name for messages and the graph: 'mseLoss'. */
  op: string;
  /** Entry point prefix in the kernel file: 'mse' -> msePartials, mseBackward. */
  kind: string;
  file: string;
  /** d f(d) / d d = gradFactor * the term the backward kernel computes: 2 * (a-b) for (a-b)^2, 1 * sign(a-b) for |a-b|. */
  gradFactor: number;
}

/**
 * At most this many partial sums: each invocation then sums n / (MAX_PARTIALS * WG) terms in a
 * row and the final sum has few terms, which keeps float32 rounding low for large n.
 */
const MAX_PARTIALS = 256;

export function elementwiseMeanLoss(loss: ElementwiseLoss, a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== 'f32' || b.dtype !== 'f32' || a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(loss.op, `inputs must be f32 tensors of the same shape, got ${a.label} and ${b.label}`);
  }
  if (a.size === 0) throw new ShapeError(loss.op, `inputs ${shapeStr(a.shape)} are empty; a mean of no elements is undefined`);
  const n = a.size;
  const wg = reductionWorkgroupSize(n);
  const groups = Math.min(MAX_PARTIALS, groupsFor(n, wg));
  const partials = Tensor.empty([groups]);
  const forward: KernelSpec = { name: `${loss.kind}Partials`, file: loss.file, entry: 'partialSums', overrides: { WG: wg } };
  dispatch(forward, { a, b, partials }, { n, groups, scale: 0 }, groups);
  const out = scaledTotal(partials, 1 / n);
  partials.dispose();
  if (needsGrad(a, b)) {
    const sa = save(a);
    const sb = save(b);
    const ewg = elementwiseWorkgroupSize();
    const backward: KernelSpec = { name: `${loss.kind}Backward`, file: loss.file, entry: 'backward', overrides: { WG: ewg } };
    const gradient = (gradLoss: Tensor, sign: number) => {
      const grad = Tensor.empty(a.shape);
      dispatch(
        backward,
        { a: sa, b: sb, grad_loss: gradLoss, grad },
        { n, groups: 0, scale: (sign * loss.gradFactor) / n },
        groupsFor(n, ewg),
      );
      return grad;
    };
    record(
      loss.op,
      out,
      [a, b],
      (gradLoss) => [a.requiresGrad ? gradient(gradLoss, 1) : null, b.requiresGrad ? gradient(gradLoss, -1) : null],
      [sa, sb],
    );
  }
  return out;
}
