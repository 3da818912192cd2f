// Softmax and log-softmax with temperature over the last dim of a row-major [rows, cols]
// tensor, and their backward passes. x, y, dy, dx: rows,cols.
//   softmaxForward:     y[r,j]  = exp((x[r,j] - m) / T) / s,   m = max_j x[r,j], s = sum_j exp((x[r,j] - m) / T)
//   logSoftmaxForward:  y[r,j]  = (x[r,j] - m) / T - log(s)
//   softmaxBackward:    dx[r,j] = y[r,j] * (dy[r,j] - sum_k dy[r,k] * y[r,k]) / T      (y = softmax output)
//   logSoftmaxBackward: dx[r,j] = (dy[r,j] - exp(y[r,j]) * sum_k dy[r,k]) / T          (y = log-softmax output)
// Subtracting the row max first keeps exp() in [0, 1], so logits of any size stay finite
// (max(x/T) = max(x)/T because T > 0).
// One workgroup per row (1-D dispatch of `rows` workgroups, folded by the runtime if needed);
// each invocation strides over the row, so any cols >= 1 works, longer or shorter than WG.
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"

struct Params { rows: u32, cols: u32, temperature: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> y_saved: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// Row max of x and log(sum exp((x - max) / T)), shared by both forward entries.
struct RowStats { max: f32, log_sum: f32 };

fn row_stats(base: u32, lid: u32) -> RowStats {
  var m = LOWEST_F32;
  for (var j = lid; j < p.cols; j = j + WG) { m = max(m, x[base + j]); }
  m = workgroup_max(m, lid);
  var s = 0.0;
  for (var j = lid; j < p.cols; j = j + WG) { s = s + exp((x[base + j] - m) / p.temperature); }
  s = workgroup_sum(s, lid);
  return RowStats(m, log(s));
}

@compute @workgroup_size(WG)
fn softmaxForward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let st = row_stats(base, lid);
  for (var j = lid; j < p.cols; j = j + WG) { y[base + j] = exp((x[base + j] - st.max) / p.temperature - st.log_sum); }
}

@compute @workgroup_size(WG)
fn logSoftmaxForward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let st = row_stats(base, lid);
  for (var j = lid; j < p.cols; j = j + WG) { y[base + j] = (x[base + j] - st.max) / p.temperature - st.log_sum; }
}

@compute @workgroup_size(WG)
fn softmaxBackward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var d = 0.0;
  for (var j = lid; j < p.cols; j = j + WG) { d = d + dy[base + j] * y_saved[base + j]; }
  d = workgroup_sum(d, lid);
  for (var j = lid; j < p.cols; j = j + WG) {
    dx[base + j] = y_saved[base + j] * (dy[base + j] - d) / p.temperature;
  }
}

@compute @workgroup_size(WG)
fn logSoftmaxBackward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var g = 0.0;
  for (var j = lid; j < p.cols; j = j + WG) { g = g + dy[base + j]; }
  g = workgroup_sum(g, lid);
  for (var j = lid; j < p.cols; j = j + WG) {
    dx[base + j] = (dy[base + j] - exp(y_saved[base + j]) * g) / p.temperature;
  }
}
