/**
 * linear(x, w, b): y = x w^T + b, PyTorch's nn.Linear layout.
 *   x: [N,K]   w: [M,K]   b: [M] or null   ->   y: [N,M]
 * Backward (only where needed): dx = dy w, dw = dy^T x, db = column sums of dy.
 * All products run on the tiled GEMM kernel (matmul.ts `gemm`), reading the transposes through
 * strides; the bias gradient reuses conv2d's channel sum (dy [N,M] is a map with one pixel).
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import { gemm, checkMatrix } from './matmul.ts';
import { conv2dBackwardBias } from './conv2d.ts';

function linearImpl(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const shapes = `x ${shapeStr(x.shape)}, w ${shapeStr(w.shape)}${b ? `, b ${shapeStr(b.shape)}` : ''}`;
  checkMatrix('linear', 'x', x, shapes);
  checkMatrix('linear', 'w', w, shapes);
  if (x.shape[1] !== w.shape[1])
    throw new ShapeError('linear', `x has ${x.shape[1]} features but w [out, in] expects ${w.shape[1]} (${shapes})`);
  if (b && (b.rank !== 1 || b.shape[0] !== w.shape[0] || b.dtype !== 'f32'))
    throw new ShapeError('linear', `bias must be f32 [${w.shape[0]}] (${shapes})`);
  const y = gemm({ t: x }, { t: w, transposed: true }, b);
  if (needsGrad(x, w, b)) {
    const wSaved = x.requiresGrad ? save(w) : null;
    const xSaved = w.requiresGrad ? save(x) : null;
    record(
      'linear',
      y,
      [x, w, b],
      (dy) => [
        wSaved ? gemm({ t: dy }, { t: wSaved }) : null,
        xSaved ? gemm({ t: dy, transposed: true }, { t: xSaved }) : null,
        b?.requiresGrad ? conv2dBackwardBias(dy) : null,
      ],
      [wSaved, xSaved].filter((t): t is Tensor => t !== null),
    );
  }
  return y;
}
export const linear = namedOp('linear', linearImpl);
