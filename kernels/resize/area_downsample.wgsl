// Area (box) downsampling by an integer factor F: each output is the mean of an F x F block,
// as avg_pool2d with kernel = stride = F (output floor(H/F) x floor(W/F); trailing rows and
// columns that fill no whole block are dropped).
// Layouts: x, dx: N,C,H,W.  y, dy: N,C,OH,OW.
// Entry points (one invocation per element, 1-D dispatches of ceil(count / WG) workgroups):
//   forward:  per output, the mean of its block.
//   backward: per input, dx = dy of its block / F^2 (0 for dropped rows and columns).
#include "include/common.wgsl"

struct Params {
  planes: u32,          // N * C
  in_size: vec2<u32>,   // H, W
  out_size: vec2<u32>,  // OH, OW
  factor: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WG + lid;
  if (o >= p.planes * p.out_size.x * p.out_size.y) { return; }
  let pos = plane_coords(o, p.out_size);
  let oh = pos.y;
  let ow = pos.z;
  let base = pos.x * p.in_size.x * p.in_size.y;
  var sum = 0.0;
  for (var dh = 0u; dh < p.factor; dh++) {
    let row = base + (oh * p.factor + dh) * p.in_size.y + ow * p.factor;
    for (var dw = 0u; dw < p.factor; dw++) { sum += x[row + dw]; }
  }
  y[o] = sum / f32(p.factor * p.factor);
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.planes * p.in_size.x * p.in_size.y) { return; }
  let pos = plane_coords(i, p.in_size);
  let plane = pos.x;
  let oh = pos.y / p.factor;
  let ow = pos.z / p.factor;
  var g = 0.0;
  if (oh < p.out_size.x && ow < p.out_size.y) {
    g = dy[(plane * p.out_size.x + oh) * p.out_size.y + ow] / f32(p.factor * p.factor);
  }
  dx[i] = g;
}
