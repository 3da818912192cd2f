/**
 * Optimizer test scaffolding: parameters of awkward sizes, a seeded schedule of gradients (some
 * null, to check that a parameter without a gradient is skipped), and a driver that feeds the
 * schedule to a GPU optimizer.
 */
import { Tensor, shapeSize } from '../../engine/tensor.ts';
import { Rng } from '../../engine/random.ts';
import type { Optimizer } from '../../engine/optim/optimizer.ts';
import { randomF32 } from './f32.ts';

/**
 * A matrix, a scalar, a vector longer than a workgroup, a conv weight, and a matrix whose size
 * divides by 4 (Adam's vec4 entry points) with more vec4s (260) than a workgroup of 256.
 */
export const PARAM_SHAPES: number[][] = [[3, 5], [1], [257], [7, 3, 3, 3], [8, 130]];

/** Initial values (float32-exact) and their GPU tensors. */
export function makeParams(seed: number): { host: Float64Array[]; tensors: Tensor[] } {
  const rng = new Rng(seed);
  const host = PARAM_SHAPES.map((s) => randomF32(rng, shapeSize(s)));
  const tensors = host.map((h, i) => {
    const t = Tensor.from(h, PARAM_SHAPES[i]).keep();
    t.requiresGrad = true;
    return t;
  });
  return { host, tensors };
}

/**
 * grads[step][param]: float32-exact values in [-1, 1), or null where `isNull(step, param)`
 * (by default parameter 1 has no gradient at step 1, counting from 0).
 */
export function gradSchedule(
  seed: number,
  steps: number,
  isNull = (step: number, param: number) => step === 1 && param === 1,
): (Float64Array | null)[][] {
  const rng = new Rng(seed);
  return Array.from({ length: steps }, (_, s) => PARAM_SHAPES.map((shape, i) => (isNull(s, i) ? null : randomF32(rng, shapeSize(shape)))));
}

/** Give each parameter its gradient of this step (or none), step, and clear the gradients. */
export function stepWith(opt: Optimizer, params: Tensor[], grads: (Float64Array | null)[]) {
  params.forEach((p, i) => {
    const g = grads[i];
    p.grad = g ? Tensor.from(g, p.shape).keep() : null;
  });
  opt.step();
  opt.zeroGrad();
}
