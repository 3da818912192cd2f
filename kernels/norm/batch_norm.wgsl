// Batch normalization over (N, H, W) per channel, PyTorch BatchNorm2d semantics.
// Layouts: x, y, dx, dy: N,C,H,W.  weight, bias, running_mean, running_var, dweight, dbias: C.
//          stats: C,2 = (mean, rstd) per channel, rstd = 1 / sqrt(var + eps); M = N*H*W.
// Entry points:
//   statsTraining: one workgroup (WG invocations, a power of two) per channel: batch mean, biased
//                  variance (two passes); writes stats and updates the running statistics in
//                  place: running = (1 - momentum) * running + momentum * batch, with the
//                  unbiased variance var * M / (M - 1) for running_var.
//   statsEval:     one invocation per channel: stats from the running statistics.
//   normalize:     elementwise, y = (x - mean[c]) * rstd[c] * weight[c] + bias[c].
//   backward:      one workgroup per channel, xhat = (x - mean) * rstd:
//                  dweight[c] = sum dy * xhat, dbias[c] = sum dy, and
//                  batch statistics (batch_stats = 1): dx = weight*rstd*(dy - mean(dy) - xhat*mean(dy*xhat))
//                  running statistics (batch_stats = 0): dx = weight * rstd * dy (the stats are constants).
// Dispatches: 1-D; C workgroups (statsTraining, backward), ceil(C / WG) (statsEval),
//             ceil(N*C*H*W / WG) (normalize).
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"
#include "include/strided_cursor.wgsl"

struct Params {
  batch: u32,      // N
  channels: u32,   // C
  hw: u32,         // H * W
  eps: f32,
  momentum: f32,
  batch_stats: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats_out: array<f32>;
@group(0) @binding(7) var<storage, read> stats: array<f32>;
@group(0) @binding(8) var<storage, read_write> y: array<f32>;
@group(0) @binding(9) var<storage, read> dy: array<f32>;
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;
@group(0) @binding(11) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(12) var<storage, read_write> dbias: array<f32>;

// WG (the workgroup size, a power of two) is declared by include/workgroup_reduce.wgsl.

// Flat index of the element of channel c at cursor position (row n, col spatial index): the
// loops walk j = n * hw + spatial index over the channel's M elements in steps of WG.
fn channel_element(c: u32, at: Cursor) -> u32 {
  return (at.row * p.channels + c) * p.hw + at.col;
}

@compute @workgroup_size(WG)
fn statsTraining(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg);
  if (c >= p.channels) { return; }
  let count = p.batch * p.hw;
  let step = cursor_at(WG, p.hw);
  var s = 0.0;
  var at = cursor_at(lid, p.hw);
  for (var j = lid; j < count; j += WG) {
    s += x[channel_element(c, at)];
    at = cursor_advance(at, step, p.hw);
  }
  let mean = workgroup_sum(s, lid) / f32(count);
  var q = 0.0;
  at = cursor_at(lid, p.hw);
  for (var j = lid; j < count; j += WG) {
    let d = x[channel_element(c, at)] - mean;
    q += d * d;
    at = cursor_advance(at, step, p.hw);
  }
  let sum_sq = workgroup_sum(q, lid);
  if (lid == 0u) {
    let biased = sum_sq / f32(count);
    let unbiased = sum_sq / f32(count - 1u);
    stats_out[2u * c] = mean;
    stats_out[2u * c + 1u] = 1.0 / sqrt(biased + p.eps);
    running_mean[c] = (1.0 - p.momentum) * running_mean[c] + p.momentum * mean;
    running_var[c] = (1.0 - p.momentum) * running_var[c] + p.momentum * unbiased;
  }
}

@compute @workgroup_size(WG)
fn statsEval(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg) * WG + lid;
  if (c >= p.channels) { return; }
  stats_out[2u * c] = running_mean[c];
  stats_out[2u * c + 1u] = 1.0 / sqrt(running_var[c] + p.eps);
}

@compute @workgroup_size(WG)
fn normalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.batch * p.channels * p.hw) { return; }
  let c = (i / p.hw) % p.channels;
  y[i] = (x[i] - stats[2u * c]) * stats[2u * c + 1u] * weight[c] + bias[c];
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg);
  if (c >= p.channels) { return; }
  let count = p.batch * p.hw;
  let mean = stats[2u * c];
  let rstd = stats[2u * c + 1u];
  let step = cursor_at(WG, p.hw);
  var sum_dy = 0.0;
  var sum_dy_xhat = 0.0;
  var at = cursor_at(lid, p.hw);
  for (var j = lid; j < count; j += WG) {
    let idx = channel_element(c, at);
    sum_dy += dy[idx];
    sum_dy_xhat += dy[idx] * (x[idx] - mean) * rstd;
    at = cursor_advance(at, step, p.hw);
  }
  let total_dy = workgroup_sum(sum_dy, lid);
  let total_dy_xhat = workgroup_sum(sum_dy_xhat, lid);
  if (lid == 0u) {
    dbias[c] = total_dy;
    dweight[c] = total_dy_xhat;
  }
  // With running statistics the normalization is a fixed affine map: no centering terms.
  let batch = p.batch_stats == 1u;
  let mean_dy = select(0.0, total_dy / f32(count), batch);
  let mean_dy_xhat = select(0.0, total_dy_xhat / f32(count), batch);
  let gain = weight[c] * rstd;
  at = cursor_at(lid, p.hw);
  for (var j = lid; j < count; j += WG) {
    let idx = channel_element(c, at);
    let xhat = (x[idx] - mean) * rstd;
    dx[idx] = gain * (dy[idx] - mean_dy - xhat * mean_dy_xhat);
    at = cursor_advance(at, step, p.hw);
  }
}
