// Multiplication by a constant, elementwise over a flat f32 array of n elements.
//   y[i] = alpha * x[i]   (the backward pass is the same kernel with alpha: dx = alpha * dy)
// Each invocation handles ITEMS elements WG apart; 1-D dispatch of ceil(n / (WG * ITEMS))
// workgroups, possibly folded to 2-D.
#include "include/common.wgsl"

struct Params { n: u32, alpha: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

override WG: u32 = 256;
override ITEMS: u32 = 4;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let base = linear_workgroup(wid, nwg) * WG * ITEMS + lid;
  for (var k = 0u; k < ITEMS; k++) {
    let i = base + k * WG;
    if (i < p.n) { y[i] = p.alpha * x[i]; }
  }
}
