// Elementwise add of two same-shape f32 tensors (the residual connection), and the in-place
// accumulate that autograd uses to sum gradients. Layout: flat, n elements.
//   add:        out[i] = a[i] + b[i]
//   accumulate: acc[i] += b[i]
// 1-D dispatch of ceil(n / WG) workgroups, possibly folded to 2-D by the runtime.
// addVec4 / accumulateVec4 (n % 4 == 0): the same through vec4 views (a4[i] = a[4i .. 4i+3]),
// one vec4 per invocation, ceil(n / (4 * WG)) workgroups. CPU adapters (lavapipe) fetch each
// per-invocation storage value lane by lane whatever its width: 4 elements per access.
#include "include/common.wgsl"

struct Params { n: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> acc: array<f32>;
@group(0) @binding(5) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> acc4: array<vec4<f32>>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  out[i] = a[i] + b[i];
}

@compute @workgroup_size(WG)
fn accumulate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  acc[i] = acc[i] + b[i];
}

@compute @workgroup_size(WG)
fn addVec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n / 4u) { return; }
  out4[i] = a4[i] + b4[i];
}

@compute @workgroup_size(WG)
fn accumulateVec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n / 4u) { return; }
  acc4[i] = acc4[i] + b4[i];
}
