/**
 * Weight initialisation, drawn from a seeded Rng so the same seed gives the same weights.
 *
 * - Convolutions: Kaiming normal, mode fan_out, ReLU gain (as the reference implementation):
 *   std = gain / sqrt(fan_out) with gain = sqrt(2) and fan_out = out_channels * KH * KW.
 * - Linear: PyTorch's default for nn.Linear: weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 *   (kaiming_uniform with a = sqrt(5), whose bound gain * sqrt(3 / fan_in) simplifies to
 *   1/sqrt(fan_in)), and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_features.
 * - Norm layers: weight 1, bias 0 (running mean 0, running var 1 for batch norm).
 * Values are drawn in row-major order of the weight.
 */
import type { Rng } from '../engine/random.ts';
import { shapeSize } from '../engine/tensor.ts';

/** Kaiming normal (fan_out, ReLU) for a conv weight [O, I, KH, KW]. */
export function kaimingNormalFanOut(rng: Rng, shape: readonly [number, number, number, number]): Float32Array {
  const [o, , kh, kw] = shape;
  const std = Math.sqrt(2) / Math.sqrt(o * kh * kw);
  const a = new Float32Array(shapeSize(shape));
  for (let i = 0; i < a.length; i++) a[i] = rng.normal(0, std);
  return a;
}

/** U(-1/sqrt(fanIn), 1/sqrt(fanIn)) of the given size: PyTorch's nn.Linear default for weight and bias. */
export function linearDefaultUniform(rng: Rng, size: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const a = new Float32Array(size);
  for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-bound, bound);
  return a;
}
