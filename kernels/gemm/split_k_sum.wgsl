// Sum of split-K partial results (conv2dBackwardWeightSum): out[i] = sum_{z < splits} partial[z*n + i].
//   partial: splits, n   out: n
// The slices are added in order z = 0, 1, ..., so the result does not depend on scheduling.
// 1-D dispatch of ceil(n / WG) workgroups (possibly folded to 2-D by the runtime).
#include "include/common.wgsl"

struct Params { n: u32, splits: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  var s = 0.0;
  for (var z = 0u; z < p.splits; z++) { s += partial[z * p.n + i]; }
  out[i] = s;
}
