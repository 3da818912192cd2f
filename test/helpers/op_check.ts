/**
 * Helpers for the op tests in test/ops: seeded inputs, leaf tensors that require grad, the GPU
 * backward of `loss = sum(out * dout)`, and the finite-difference check of a reference gradient.
 */
import { Tensor } from '../../engine/tensor.ts';
import { backward, zeroGrad } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { assertClose, numericGrad, dot, FD_TOL } from './gpu.ts';
import { randomF32 } from './f32.ts';

/** n values uniform in [lo, hi), reproducible from seed. */
export function randomData(seed: number, n: number, lo = -1, hi = 1): Float64Array {
  const rng = new Rng(seed);
  return rng.array(n, () => rng.uniform(lo, hi));
}

/** An f32 tensor that requires grad (a leaf: its gradient lands in `.grad`). */
export function leaf(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  const t = Tensor.from(data, shape);
  t.requiresGrad = true;
  return t;
}

/**
 * Run backward from `out` with upstream gradient `dout` (the gradient of sum(out * dout)) and
 * read the gradients of `inputs` (null where an input got none). Gradients are cleared after.
 */
export async function gpuGrads(out: Tensor, dout: ArrayLike<number>, inputs: Tensor[]): Promise<(Float32Array | null)[]> {
  const g = Tensor.from(dout, out.shape);
  backward(out, g);
  g.dispose();
  const grads: (Float32Array | null)[] = [];
  for (const t of inputs) grads.push(t.grad ? ((await t.grad.read()) as Float32Array) : null);
  zeroGrad(inputs);
  return grads;
}

/**
 * Check a float64 reference gradient against central finite differences of
 * f(x) = sum(forward(x) * dout), in place on x (restored after).
 */
export function checkAgainstFiniteDifferences(
  label: string,
  forward: (x: Float64Array) => ArrayLike<number>,
  x: Float64Array,
  dout: ArrayLike<number>,
  analytic: ArrayLike<number>,
) {
  const numeric = numericGrad((v) => dot(forward(v), dout), x);
  assertClose(label, analytic, numeric, FD_TOL);
}

/**
 * Like randomData, but every value is exactly representable in float32, so the GPU and the
 * float64 reference see the same input (ops that compare values, such as max pooling, then
 * make the same choices).
 */
export function randomF32Data(seed: number, n: number, lo = -1, hi = 1): Float64Array {
  return randomF32(new Rng(seed), n, lo, hi);
}
