// ReLU and its gradient, elementwise over a flat f32 array of n elements.
//   forward:  y[i] = max(x[i], 0)
//   backward: dx[i] = dy[i] if y[i] > 0 else 0  (the gradient at exactly 0 is 0, as in PyTorch;
//             y > 0 exactly where x > 0, so the forward output is what backward keeps)
// Each invocation handles ITEMS elements WG apart (neighbouring invocations touch neighbouring
// elements); 1-D dispatch of ceil(n / (WG * ITEMS)) workgroups, possibly folded to 2-D.
// forwardVec4 / backwardVec4 (n % 4 == 0): the same with vec4 views (x4[i] = x[4i .. 4i+3]),
// ITEMS vec4s per invocation, ceil(n / (4 * WG * ITEMS)) workgroups. On lavapipe every
// per-invocation storage access is done lane by lane whatever its width: 4 elements per access.
#include "include/common.wgsl"

struct Params { n: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> y_saved: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> y_saved4: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> dx4: array<vec4<f32>>;

override WG: u32 = 256;
override ITEMS: u32 = 4;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let base = linear_workgroup(wid, nwg) * WG * ITEMS + lid;
  for (var k = 0u; k < ITEMS; k++) {
    let i = base + k * WG;
    if (i < p.n) { y[i] = max(x[i], 0.0); }
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let base = linear_workgroup(wid, nwg) * WG * ITEMS + lid;
  for (var k = 0u; k < ITEMS; k++) {
    let i = base + k * WG;
    if (i < p.n) { dx[i] = select(0.0, dy[i], y_saved[i] > 0.0); }
  }
}

@compute @workgroup_size(WG)
fn forwardVec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let base = linear_workgroup(wid, nwg) * WG * ITEMS + lid;
  for (var k = 0u; k < ITEMS; k++) {
    let i = base + k * WG;
    if (i < p.n / 4u) { y4[i] = max(x4[i], vec4<f32>(0.0)); }
  }
}

@compute @workgroup_size(WG)
fn backwardVec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let base = linear_workgroup(wid, nwg) * WG * ITEMS + lid;
  for (var k = 0u; k < ITEMS; k++) {
    let i = base + k * WG;
    if (i < p.n / 4u) { dx4[i] = select(vec4<f32>(0.0), dy4[i], y_saved4[i] > vec4<f32>(0.0)); }
  }
}
