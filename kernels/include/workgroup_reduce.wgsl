// Workgroup-wide sum and max, included with `#include "include/workgroup_reduce.wgsl"` by kernels that
// reduce a row (softmax, KL, cross-entropy) or a chunk (losses) with one workgroup.
// The including kernel declares its entry points with @workgroup_size(WG); WG must be a power
// of two (engine/ops/workgroup_reduce.ts chooses it from the row length and the device limits).
// Every invocation of the workgroup must call these in uniform control flow (they contain
// barriers); each returns the reduced value to all invocations.

override WG: u32 = 256;

// One slot per invocation; halved in a tree, log2(WG) barrier rounds.
var<workgroup> wg_scratch: array<f32, WG>;

fn workgroup_sum(v: f32, lid: u32) -> f32 {
  wg_scratch[lid] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) { wg_scratch[lid] = wg_scratch[lid] + wg_scratch[lid + half]; }
    workgroupBarrier();
  }
  let total = wg_scratch[0];
  // All invocations must have read the result before a later call overwrites the scratch.
  workgroupBarrier();
  return total;
}

fn workgroup_max(v: f32, lid: u32) -> f32 {
  wg_scratch[lid] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) { wg_scratch[lid] = max(wg_scratch[lid], wg_scratch[lid + half]); }
    workgroupBarrier();
  }
  let best = wg_scratch[0];
  workgroupBarrier();
  return best;
}

// The lowest finite f32: the identity for max over finite logits.
const LOWEST_F32: f32 = -3.40282346638528859812e38f;
