// Bicubic resize, PyTorch interpolate(mode='bicubic', align_corners=False), no antialiasing.
// Along each axis, output o reads the source coordinate s = (o + 0.5) * in/out - 0.5 (not
// clamped); with f = floor(s), t = s - f, the taps f-1, f, f+1, f+2 (each clamped to [0, in-1])
// get Keys cubic weights with A = -0.75:
//   w(d) = (A+2)|d|^3 - (A+3)|d|^2 + 1 for |d| <= 1;  A|d|^3 - 5A|d|^2 + 8A|d| - 4A for 1 < |d| < 2
// at distances t+1, t, 1-t, 2-t.
// Layouts: x, dx: N,C,H,W.  y, dy: N,C,OH,OW.  rows_grad (backward scratch): N,C,OH,W.
// Entry points (one invocation per element, 1-D dispatches of ceil(count / WG) workgroups):
//   forward:      per output: the 4 x 4 weighted taps.
//   backwardRows: per (n, c, oh, iw): rows_grad = sum over ow of dy * (weight of iw in ow's taps)
//   backwardCols: per (n, c, ih, iw): dx = sum over oh of rows_grad * (weight of ih in oh's taps)
// The backward is the forward's transpose written as two gathers (deterministic, no atomics);
// each gather visits only the outputs whose taps can reach the input, and recomputes the taps
// exactly as the forward does.
#include "include/common.wgsl"

struct Params {
  planes: u32,          // N * C
  in_size: vec2<u32>,   // H, W
  out_size: vec2<u32>,  // OH, OW
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> rows_grad: array<f32>;
@group(0) @binding(5) var<storage, read> rows_grad_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;

const A: f32 = -0.75;

// The four taps of output o along an axis: first tap index (f - 1, unclamped) and weights.
struct Taps { first: i32, w: vec4<f32> };

fn taps(o: u32, in_len: u32, out_len: u32) -> Taps {
  let s = (f32(o) + 0.5) * (f32(in_len) / f32(out_len)) - 0.5;
  let f = floor(s);
  let t = s - f;
  let near = vec2<f32>(t, 1.0 - t);        // |d| <= 1
  let far = vec2<f32>(t + 1.0, 2.0 - t);   // 1 <= |d| < 2
  let wn = ((A + 2.0) * near - (A + 3.0)) * near * near + 1.0;
  let wf = ((A * far - 5.0 * A) * far + 8.0 * A) * far - 4.0 * A;
  return Taps(i32(f) - 1, vec4<f32>(wf.x, wn.x, wn.y, wf.y));
}

fn clamp_tap(i: i32, in_len: u32) -> u32 {
  return u32(clamp(i, 0, i32(in_len) - 1));
}

// The total weight that output o gives input i along an axis (taps clamped onto i add up).
fn weight_onto(o: u32, i: u32, in_len: u32, out_len: u32) -> f32 {
  let tp = taps(o, in_len, out_len);
  var w = 0.0;
  for (var k = 0; k < 4; k++) {
    if (clamp_tap(tp.first + k, in_len) == i) { w += tp.w[k]; }
  }
  return w;
}

// Outputs whose taps can reach input i: floor(s(o)) in [i-2, i+1] (with clamping at the edges
// this still covers every output, since floor(s) >= -1 and <= in-1). Solved for o and widened by
// one on each side against rounding; weight_onto is exact for whatever the range admits.
fn outputs_reaching(i: u32, in_len: u32, out_len: u32) -> vec2<u32> {
  let ratio = f32(out_len) / f32(in_len);
  let lo = i32(floor((f32(i) - 1.5) * ratio - 0.5)) - 1;
  let hi = i32(ceil((f32(i) + 2.5) * ratio - 0.5)) + 1;
  return vec2<u32>(u32(max(lo, 0)), u32(clamp(hi, 0, i32(out_len) - 1)));
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WG + lid;
  if (o >= p.planes * p.out_size.x * p.out_size.y) { return; }
  let pos = plane_coords(o, p.out_size);
  let oh = pos.y;
  let ow = pos.z;
  let base = pos.x * p.in_size.x * p.in_size.y;
  let ty = taps(oh, p.in_size.x, p.out_size.x);
  let tx = taps(ow, p.in_size.y, p.out_size.y);
  var sum = 0.0;
  for (var a = 0; a < 4; a++) {
    let row = base + clamp_tap(ty.first + a, p.in_size.x) * p.in_size.y;
    var across = 0.0;
    for (var b = 0; b < 4; b++) { across += tx.w[b] * x[row + clamp_tap(tx.first + b, p.in_size.y)]; }
    sum += ty.w[a] * across;
  }
  y[o] = sum;
}

@compute @workgroup_size(WG)
fn backwardRows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.planes * p.out_size.x * p.in_size.y) { return; }
  let iw = i % p.in_size.y;
  let row = i / p.in_size.y;  // plane * OH + oh
  let range = outputs_reaching(iw, p.in_size.y, p.out_size.y);
  var sum = 0.0;
  for (var ow = range.x; ow <= range.y; ow++) {
    sum += dy[row * p.out_size.y + ow] * weight_onto(ow, iw, p.in_size.y, p.out_size.y);
  }
  rows_grad[i] = sum;
}

@compute @workgroup_size(WG)
fn backwardCols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.planes * p.in_size.x * p.in_size.y) { return; }
  let pos = plane_coords(i, p.in_size);
  let plane = pos.x;
  let ih = pos.y;
  let iw = pos.z;
  let range = outputs_reaching(ih, p.in_size.x, p.out_size.x);
  var sum = 0.0;
  for (var oh = range.x; oh <= range.y; oh++) {
    sum += rows_grad_in[(plane * p.out_size.x + oh) * p.in_size.y + iw] * weight_onto(oh, ih, p.in_size.x, p.out_size.x);
  }
  dx[i] = sum;
}
