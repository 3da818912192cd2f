// Group normalization (PyTorch GroupNorm: groups are contiguous channel blocks, biased variance,
// eps inside the square root, per-channel affine weight and bias).
// Layouts: x, y, dx, dy: N,C,H,W.  weight, bias, dweight, dbias: C.
//          stats: N,G,2 = (mean, rstd) per (sample, group), rstd = 1 / sqrt(var + eps).
//          sums: N,C,2 = (sum of dy, sum of dy * xhat) over the map of each (sample, channel).
// The block ("slab" below) of group g of sample n is contiguous: L = (C/G)*H*W elements from (n*G + g) * L.
// Entry points (WG invocations per workgroup, a power of two, reducing in shared memory):
//   forward:        one workgroup per (n, g): mean, then variance of the deviations (two passes
//                   for accuracy), then y = (x - mean) * rstd * weight[c] + bias[c]; writes stats.
//   channelSums:    one workgroup per (n, c), with xhat = (x - mean) * rstd: writes sums. Both
//                   backward entries need only these sums, so the backward pass reads dy and x
//                   twice (here and for dx) instead of three times.
//   backwardInput:  one workgroup per (n, g), with g = dy * weight[c]:
//                   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), means over the L elements,
//                   taken from sums (sum of g = sum over c of weight[c] * sum of dy, likewise g * xhat).
//   backwardParams: one workgroup per channel c: dweight[c] = sum over n of sums[n,c,1],
//                   dbias[c] = sum over n of sums[n,c,0].
// Dispatches: 1-D, N*G (forward, backwardInput), N*C (channelSums) or C (backwardParams) workgroups.
// Loops that need a per-channel value (weight[c], a block's mean and rstd) walk the channels (or
// samples) in an outer loop and the H*W map in the inner one, so that value is loaded once per
// channel rather than once per element: CPU adapters fetch every storage-buffer value lane by
// lane, so on lavapipe the per-element loads of weight and bias cost as much as those of x.
// Maps with H*W a multiple of 4 run norm/group_norm_vec4.wgsl instead: the same math, 4
// elements per access; this file serves every other shape.
// Epilogue: every kernel is compiled after one of norm/act_none.wgsl (groupNorm),
// norm/act_relu.wgsl (groupNormRelu) or norm/act_add_relu.wgsl (groupNormRelu with a residual): forward writes
// y = activate(normalized value), and channelSums reads its upstream gradient through
// upstream_grad (dy itself, or dy masked by the ReLU, which it also writes out for backwardInput).
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"
#include "norm/group_norm_params.wgsl"

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats_out: array<f32>;
@group(0) @binding(6) var<storage, read> stats: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;
@group(0) @binding(9) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(10) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(11) var<storage, read_write> sums_out: array<f32>;
@group(0) @binding(12) var<storage, read> sums: array<f32>;

// The access type of the epilogue (norm/act_*.wgsl): one element.
alias Elem = f32;

// WG (the workgroup size, a power of two) is declared by include/workgroup_reduce.wgsl.

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let slab = linear_workgroup(wid, nwg);
  if (slab >= p.slabs) { return; }
  let slab_len = p.per_group * p.hw;
  let base = slab * slab_len;
  var s = 0.0;
  for (var i = lid; i < slab_len; i += WG) { s += x[base + i]; }
  let mean = workgroup_sum(s, lid) / f32(slab_len);
  var q = 0.0;
  for (var i = lid; i < slab_len; i += WG) {
    let d = x[base + i] - mean;
    q += d * d;
  }
  let variance = workgroup_sum(q, lid) / f32(slab_len);
  let rstd = 1.0 / sqrt(variance + p.eps);
  let c0 = (slab % p.groups) * p.per_group;
  for (var c = 0u; c < p.per_group; c++) {
    let scale = rstd * weight[c0 + c];
    let shift = bias[c0 + c];
    let row = base + c * p.hw;
    for (var px = lid; px < p.hw; px += WG) { y[row + px] = activate((x[row + px] - mean) * scale + shift, row + px); }
  }
  if (lid == 0u) {
    stats_out[2u * slab] = mean;
    stats_out[2u * slab + 1u] = rstd;
  }
}

@compute @workgroup_size(WG)
fn channelSums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let plane = linear_workgroup(wid, nwg);   // n * C + c
  if (plane >= p.batch * p.channels) { return; }
  let slab = (plane / p.channels) * p.groups + (plane % p.channels) / p.per_group;
  let mean = stats[2u * slab];
  let rstd = stats[2u * slab + 1u];
  let row = plane * p.hw;
  var sum_dy = 0.0;
  var sum_dy_xhat = 0.0;
  for (var px = lid; px < p.hw; px += WG) {
    let d = upstream_grad(dy[row + px], row + px);
    sum_dy += d;
    sum_dy_xhat += d * (x[row + px] - mean) * rstd;
  }
  let total_dy = workgroup_sum(sum_dy, lid);
  let total_dy_xhat = workgroup_sum(sum_dy_xhat, lid);
  if (lid == 0u) {
    sums_out[2u * plane] = total_dy;
    sums_out[2u * plane + 1u] = total_dy_xhat;
  }
}

@compute @workgroup_size(WG)
fn backwardInput(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let slab = linear_workgroup(wid, nwg);
  if (slab >= p.slabs) { return; }
  let slab_len = p.per_group * p.hw;
  let base = slab * slab_len;
  let mean = stats[2u * slab];
  let rstd = stats[2u * slab + 1u];
  let c0 = (slab % p.groups) * p.per_group;
  // Means of g = dy * weight and of g * xhat over the slab. Channel c0 + c of this sample is
  // plane slab * per_group + c (= n * C + c0 + c).
  var sum_g = 0.0;
  var sum_g_xhat = 0.0;
  for (var c = 0u; c < p.per_group; c++) {
    let plane = slab * p.per_group + c;
    let weight_c = weight[c0 + c];
    sum_g += weight_c * sums[2u * plane];
    sum_g_xhat += weight_c * sums[2u * plane + 1u];
  }
  let mean_g = sum_g / f32(slab_len);
  let mean_g_xhat = sum_g_xhat / f32(slab_len);
  for (var c = 0u; c < p.per_group; c++) {
    let weight_c = weight[c0 + c];
    let row = base + c * p.hw;
    for (var px = lid; px < p.hw; px += WG) {
      let g = dy[row + px] * weight_c;
      let xhat = (x[row + px] - mean) * rstd;
      dx[row + px] = rstd * (g - mean_g - xhat * mean_g_xhat);
    }
  }
}

@compute @workgroup_size(WG)
fn backwardParams(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg);
  if (c >= p.channels) { return; }
  var sum_dy_xhat = 0.0;
  var sum_dy = 0.0;
  for (var n = lid; n < p.batch; n += WG) {
    let plane = n * p.channels + c;
    sum_dy += sums[2u * plane];
    sum_dy_xhat += sums[2u * plane + 1u];
  }
  let total_dy_xhat = workgroup_sum(sum_dy_xhat, lid);
  let total_dy = workgroup_sum(sum_dy, lid);
  if (lid == 0u) {
    dweight[c] = total_dy_xhat;
    dbias[c] = total_dy;
  }
}
