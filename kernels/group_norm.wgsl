// Group normalization (PyTorch GroupNorm: groups are contiguous channel blocks, biased variance,
// eps inside the square root, per-channel affine weight and bias).
// Layouts: x, y, dx, dy: N,C,H,W.  weight, bias, dweight, dbias: C.
//          stats: N,G,2 = (mean, rstd) per (sample, group), rstd = 1 / sqrt(var + eps).
// The block ("slab" below) of group g of sample n is contiguous: L = (C/G)*H*W elements from (n*G + g) * L.
// Entry points (WG invocations per workgroup, a power of two, reducing in shared memory):
//   forward:        one workgroup per (n, g): mean, then variance of the deviations (two passes
//                   for accuracy), then y = (x - mean) * rstd * weight[c] + bias[c]; writes stats.
//   backwardInput:  one workgroup per (n, g), with xhat = (x - mean) * rstd, g = dy * weight[c]:
//                   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), means over the L elements.
//   backwardParams: one workgroup per channel c: dweight[c] = sum over n, h, w of dy * xhat,
//                   dbias[c] = sum of dy.
// Dispatches: 1-D, N*G (forward, backwardInput) or C (backwardParams) workgroups.
#include "common.wgsl"
#include "workgroup_reduce.wgsl"
#include "strided_cursor.wgsl"

struct Params {
  slabs: u32,      // N * G
  groups: u32,     // G
  channels: u32,   // C
  per_group: u32,  // C / G
  hw: u32,         // H * W
  batch: u32,      // N
  eps: f32,
};
@group(0) @binding(0) var<uniform> p: Params;
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

// WG (the workgroup size, a power of two) is declared by workgroup_reduce.wgsl.

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
  // at.row: channel within the group, at.col: spatial index, of element i of the slab.
  var at = cursor_at(lid, p.hw);
  let step = cursor_at(WG, p.hw);
  for (var i = lid; i < slab_len; i += WG) {
    let c = c0 + at.row;
    y[base + i] = (x[base + i] - mean) * rstd * weight[c] + bias[c];
    at = cursor_advance(at, step, p.hw);
  }
  if (lid == 0u) {
    stats_out[2u * slab] = mean;
    stats_out[2u * slab + 1u] = rstd;
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
  // Sums of g = dy * weight and of g * xhat over the slab.
  var sum_g = 0.0;
  var sum_g_xhat = 0.0;
  // at.row: channel within the group of element i of the slab (see forward).
  let step = cursor_at(WG, p.hw);
  var at = cursor_at(lid, p.hw);
  for (var i = lid; i < slab_len; i += WG) {
    let g = dy[base + i] * weight[c0 + at.row];
    let xhat = (x[base + i] - mean) * rstd;
    sum_g += g;
    sum_g_xhat += g * xhat;
    at = cursor_advance(at, step, p.hw);
  }
  let mean_g = workgroup_sum(sum_g, lid) / f32(slab_len);
  let mean_g_xhat = workgroup_sum(sum_g_xhat, lid) / f32(slab_len);
  at = cursor_at(lid, p.hw);
  for (var i = lid; i < slab_len; i += WG) {
    let g = dy[base + i] * weight[c0 + at.row];
    let xhat = (x[base + i] - mean) * rstd;
    dx[base + i] = rstd * (g - mean_g - xhat * mean_g_xhat);
    at = cursor_advance(at, step, p.hw);
  }
}

@compute @workgroup_size(WG)
fn backwardParams(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg);
  if (c >= p.channels) { return; }
  let slab_of_c = c / p.per_group;
  // Sums of dy * xhat and of dy over j = n * hw + spatial index.
  var sum_dy_xhat = 0.0;
  var sum_dy = 0.0;
  let count = p.batch * p.hw;
  // at.row: sample n, at.col: spatial index, of element j.
  var at = cursor_at(lid, p.hw);
  let step = cursor_at(WG, p.hw);
  for (var j = lid; j < count; j += WG) {
    let idx = (at.row * p.channels + c) * p.hw + at.col;
    let slab = at.row * p.groups + slab_of_c;
    let xhat = (x[idx] - stats[2u * slab]) * stats[2u * slab + 1u];
    sum_dy_xhat += dy[idx] * xhat;
    sum_dy += dy[idx];
    at = cursor_advance(at, step, p.hw);
  }
  let total_dy_xhat = workgroup_sum(sum_dy_xhat, lid);
  let total_dy = workgroup_sum(sum_dy, lid);
  if (lid == 0u) {
    dweight[c] = total_dy_xhat;
    dbias[c] = total_dy;
  }
}
