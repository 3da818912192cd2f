/**
 * reshape(x, shape): the same data under another shape of the same size (a view: no copy).
 * One dimension may be -1: it is inferred from the others. Backward: the gradient, reshaped
 * back to x's shape (a fresh copy, as autograd requires).
 */
import { namedOp } from '../runtime.ts';
import { Tensor, shapeSize, shapeStr } from '../tensor.ts';
import { needsGrad, record } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import { copyOf } from './add.ts';

function resolveShape(x: Tensor, shape: readonly number[]): number[] {
  const inferred = shape.filter((d) => d === -1).length;
  const bad = shape.some((d) => !Number.isInteger(d) || d < -1);
  if (bad || inferred > 1) {
    throw new ShapeError(
      'reshape',
      `target shape ${shapeStr(shape)} for input ${shapeStr(x.shape)}: dimensions must be whole numbers >= 0, with at most one -1`,
    );
  }
  const known = shapeSize(shape.filter((d) => d !== -1));
  const out = [...shape];
  if (inferred) {
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError('reshape', `cannot infer the -1 in ${shapeStr(shape)} from input ${shapeStr(x.shape)} (${x.size} elements)`);
    }
    out[out.indexOf(-1)] = x.size / known;
  }
  if (shapeSize(out) !== x.size) {
    throw new ShapeError(
      'reshape',
      `cannot reshape ${shapeStr(x.shape)} (${x.size} elements) to ${shapeStr(shape)} (${shapeSize(out)} elements)`,
    );
  }
  return out;
}

function reshapeImpl(x: Tensor, shape: readonly number[]): Tensor {
  const y = x.view(resolveShape(x, shape));
  if (needsGrad(x)) {
    record('reshape', y, [x], (dy) => {
      const dyAsX = dy.view(x.shape);
      return [copyOf(dyAsX)];
    });
  }
  return y;
}
export const reshape = namedOp('reshape', reshapeImpl);
