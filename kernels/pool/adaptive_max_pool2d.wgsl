// Adaptive max pooling with PyTorch's bins (see pool/adaptive_bins.wgsl); bins may overlap.
// Layouts: x, dx: N,C,H,W.  y, dy, argmax: N,C,OH,OW; argmax (i32) is the index ih*W + iw of
//          the chosen input within its H x W plane. Ties go to the first maximum in row-major
//          bin order.
// Entry points (one invocation per element, 1-D dispatches of ceil(count / WG) workgroups):
//   forward:  per output: max over its bin and where it was.
//   backward: per input, a gather over the bins containing it (deterministic; overlapping
//             bins accumulate): dx = sum of dy over the bins that chose this input.
#include "include/common.wgsl"
#include "pool/adaptive_bins.wgsl"

struct Params {
  planes: u32,          // N * C
  in_size: vec2<u32>,   // H, W
  out_size: vec2<u32>,  // OH, OW
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<i32>;
@group(0) @binding(4) var<storage, read> argmax_saved: array<i32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

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
  let h0 = bin_start(oh, p.in_size.x, p.out_size.x);
  let w0 = bin_start(ow, p.in_size.y, p.out_size.y);
  // Bins are never empty: start the search at the bin's first element.
  var best_at = h0 * p.in_size.y + w0;
  var best = x[base + best_at];
  for (var ih = h0; ih < bin_end(oh, p.in_size.x, p.out_size.x); ih++) {
    for (var iw = w0; iw < bin_end(ow, p.in_size.y, p.out_size.y); iw++) {
      let at = ih * p.in_size.y + iw;
      let v = x[base + at];
      if (v > best) {
        best = v;
        best_at = at;
      }
    }
  }
  y[o] = best;
  argmax[o] = i32(best_at);
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.planes * p.in_size.x * p.in_size.y) { return; }
  let pos = plane_coords(i, p.in_size);
  let plane = pos.x;
  let ih = pos.y;
  let iw = pos.z;
  let at = i32(ih * p.in_size.y + iw);
  let rows = bins_containing(ih, p.in_size.x, p.out_size.x);
  let cols = bins_containing(iw, p.in_size.y, p.out_size.y);
  var sum = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    for (var ow = cols.x; ow <= cols.y; ow++) {
      let o = (plane * p.out_size.x + oh) * p.out_size.y + ow;
      if (argmax_saved[o] == at) { sum += dy[o]; }
    }
  }
  dx[i] = sum;
}
