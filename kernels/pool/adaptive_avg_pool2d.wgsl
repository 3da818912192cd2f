// Adaptive average pooling with PyTorch's bins (see pool/adaptive_bins.wgsl): each output is the mean
// of its own bin (bins may overlap and differ in size).
// Layouts: x, dx: N,C,H,W.  y, dy: N,C,OH,OW.
// Entry points (1-D dispatches, possibly folded to 2-D):
//   forward:     one invocation per output, a loop over its bin (small bins).
//                ceil(N*C*OH*OW / WG) workgroups.
//   forwardWide: one workgroup per output, its invocations share the bin and reduce in shared
//                memory (large bins, e.g. global pooling of a big map). N*C*OH*OW workgroups.
//   backward:    one invocation per input, a gather over the bins containing it
//                (deterministic; overlapping bins accumulate): dx = sum of dy / bin size.
//                ceil(N*C*H*W / WG) workgroups.
//   backwardGlobal: the same for OH = OW = 1 (the network's head), where the bin is the whole
//                plane: dx = dy[plane] / (H*W), without the bin search (integer division is
//                slow on CPU adapters, and the general gather does a dozen per input).
//                ceil(N*C*H*W / WG) workgroups.
#include "include/common.wgsl"
#include "pool/adaptive_bins.wgsl"
#include "include/workgroup_reduce.wgsl"

struct Params {
  planes: u32,          // N * C
  in_size: vec2<u32>,   // H, W
  out_size: vec2<u32>,  // OH, OW
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

// WG (the workgroup size, a power of two) is declared by include/workgroup_reduce.wgsl.

struct Bin { h0: u32, h1: u32, w0: u32, w1: u32, base: u32 };

// The bin of output o (flat index into N,C,OH,OW) and the offset of its input plane.
fn output_bin(o: u32) -> Bin {
  let pos = plane_coords(o, p.out_size);
  let plane = pos.x;
  let oh = pos.y;
  let ow = pos.z;
  return Bin(bin_start(oh, p.in_size.x, p.out_size.x), bin_end(oh, p.in_size.x, p.out_size.x),
             bin_start(ow, p.in_size.y, p.out_size.y), bin_end(ow, p.in_size.y, p.out_size.y),
             plane * p.in_size.x * p.in_size.y);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WG + lid;
  if (o >= p.planes * p.out_size.x * p.out_size.y) { return; }
  let b = output_bin(o);
  var sum = 0.0;
  for (var ih = b.h0; ih < b.h1; ih++) {
    for (var iw = b.w0; iw < b.w1; iw++) { sum += x[b.base + ih * p.in_size.y + iw]; }
  }
  y[o] = sum / f32((b.h1 - b.h0) * (b.w1 - b.w0));
}

@compute @workgroup_size(WG)
fn forwardWide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg);
  if (o >= p.planes * p.out_size.x * p.out_size.y) { return; }
  let b = output_bin(o);
  let bin_w = b.w1 - b.w0;
  let count = (b.h1 - b.h0) * bin_w;
  var sum = 0.0;
  for (var j = lid; j < count; j += WG) {
    sum += x[b.base + (b.h0 + j / bin_w) * p.in_size.y + b.w0 + j % bin_w];
  }
  let total = workgroup_sum(sum, lid);
  if (lid == 0u) { y[o] = total / f32(count); }
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
  let rows = bins_containing(ih, p.in_size.x, p.out_size.x);
  let cols = bins_containing(iw, p.in_size.y, p.out_size.y);
  var sum = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    let bin_h = bin_end(oh, p.in_size.x, p.out_size.x) - bin_start(oh, p.in_size.x, p.out_size.x);
    for (var ow = cols.x; ow <= cols.y; ow++) {
      let bin_w = bin_end(ow, p.in_size.y, p.out_size.y) - bin_start(ow, p.in_size.y, p.out_size.y);
      sum += dy[(plane * p.out_size.x + oh) * p.out_size.y + ow] / f32(bin_h * bin_w);
    }
  }
  dx[i] = sum;
}

@compute @workgroup_size(WG)
fn backwardGlobal(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  let plane_size = p.in_size.x * p.in_size.y;
  if (i >= p.planes * plane_size) { return; }
  dx[i] = dy[i / plane_size] / f32(plane_size);
}
