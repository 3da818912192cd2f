/**
 * Helpers shared by the ops whose kernels reduce with one workgroup (kernels/include/workgroup_reduce.wgsl):
 * softmax, the distillation KL, cross-entropy, MSE and L1.
 *
 * - `reductionWorkgroupSize(length)`: a power of two (the tree reduction halves it) fitted to
 *   the reduction length, so a 3-class row does not wake 256 invocations, within the device's
 *   limits (compatibility adapters may allow only 128 invocations).
 * - `scaledTotal(partials, scale)`: scale * sum(partials) as a [1] tensor; every scalar loss
 *   ends with it (partials per row or per chunk; scale 1/N for a batch mean).
 */
import { Tensor } from '../tensor.ts';
import { dispatch, runtime } from '../runtime.ts';
import type { KernelSpec } from '../kernel.ts';

/** Smallest power of two >= length, clamped to [32, min(256, device limits)]. */
export function reductionWorkgroupSize(length: number): number {
  const l = runtime().limits;
  const cap = Math.min(256, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
  let wg = 32;
  while (wg < length && wg * 2 <= cap) wg *= 2;
  // A device below 32 invocations is not a WebGPU device, but stay within whatever it reports.
  while (wg > cap) wg /= 2;
  return wg;
}

/** total[0] = scale * sum(partials): one workgroup, fixed order of additions (deterministic). No graph. */
export function scaledTotal(partials: Tensor, scale: number): Tensor {
  const total = Tensor.empty([1]);
  const spec: KernelSpec = {
    name: 'scaledTotal',
    file: 'reduce/scaled_total.wgsl',
    overrides: { WG: reductionWorkgroupSize(partials.size) },
  };
  dispatch(spec, { partials, total }, { n: partials.size, scale }, 1);
  return total;
}
