// 2-D max pooling (PyTorch max_pool2d, no dilation, floor output size).
// Layouts: x, dx: N,C,H,W.  y, dy, argmax: N,C,OH,OW; argmax (i32) is the index ih*W + iw of
//          the chosen input within its H x W plane.
// Padding acts as -infinity: only in-bounds inputs compete (the op checks padding <= kernel/2,
// so every window holds at least one). Ties go to the first maximum in row-major window order.
// Entry points (one invocation per element, 1-D dispatches of ceil(count / WG) workgroups):
//   forward:  per output element: y = max over the window, argmax = where it was.
//   backward: per input element, a gather (deterministic, no atomics): dx = sum of dy over the
//             windows that contain this input and chose it (overlapping windows accumulate).
#include "common.wgsl"

struct Params {
  planes: u32,          // N * C
  in_size: vec2<u32>,   // H, W
  out_size: vec2<u32>,  // OH, OW
  kernel: vec2<u32>,    // KH, KW
  stride: vec2<u32>,
  padding: vec2<u32>,
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
  let plane = pos.x;
  let oh = pos.y;
  let ow = pos.z;
  let h0 = i32(oh * p.stride.x) - i32(p.padding.x);
  let w0 = i32(ow * p.stride.y) - i32(p.padding.y);
  let base = plane * p.in_size.x * p.in_size.y;
  var best = 0.0;
  var best_at = -1;
  for (var kh = 0; kh < i32(p.kernel.x); kh++) {
    let ih = h0 + kh;
    if (ih < 0 || ih >= i32(p.in_size.x)) { continue; }
    for (var kw = 0; kw < i32(p.kernel.y); kw++) {
      let iw = w0 + kw;
      if (iw < 0 || iw >= i32(p.in_size.y)) { continue; }
      let at = ih * i32(p.in_size.y) + iw;
      let v = x[base + u32(at)];
      // Strictly greater: a later equal value does not replace the first maximum.
      if (best_at < 0 || v > best) {
        best = v;
        best_at = at;
      }
    }
  }
  y[o] = best;
  argmax[o] = best_at;
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.planes * p.in_size.x * p.in_size.y) { return; }
  let pos = plane_coords(i, p.in_size);
  let plane = pos.x;
  let ih = i32(pos.y);
  let iw = i32(pos.z);
  let at = ih * i32(p.in_size.y) + iw;
  // Windows containing row ih: oh * stride - padding <= ih <= oh * stride - padding + KH - 1.
  let rows = window_range(ih, i32(p.kernel.x), i32(p.stride.x), i32(p.padding.x), i32(p.out_size.x));
  let cols = window_range(iw, i32(p.kernel.y), i32(p.stride.y), i32(p.padding.y), i32(p.out_size.y));
  var sum = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    for (var ow = cols.x; ow <= cols.y; ow++) {
      let o = (plane * p.out_size.x + u32(oh)) * p.out_size.y + u32(ow);
      if (argmax_saved[o] == at) { sum += dy[o]; }
    }
  }
  dx[i] = sum;
}

// First and last output index (inclusive) whose window covers input index i along one axis;
// empty (first > last) when none does.
fn window_range(i: i32, k: i32, s: i32, pad: i32, out: i32) -> vec2<i32> {
  let lowest_start = i + pad - k + 1;  // the window must start at or after this
  var first = 0;
  if (lowest_start > 0) { first = (lowest_start + s - 1) / s; }
  let last = min(out - 1, (i + pad) / s);
  return vec2<i32>(first, last);
}
