// The distillation KL term, per row, and its gradient w.r.t. the student logits.
// s (student logits), t (teacher logits), ds: rows,cols.  row_loss: rows.  grad_loss: [1].
//   log_ps = log_softmax(s / T), log_pt = log_softmax(t / T), pt = exp(log_pt)
//   klRowForward:  row_loss[r] = sum_j pt[r,j] * (log_pt[r,j] - log_ps[r,j]), a term with pt = 0 counting 0
//                  (the batchmean * T^2 scaling happens in reduce/scaled_total.wgsl)
//   klBackward:    ds[r,j] = grad_loss[0] * scale * (ps[r,j] - pt[r,j]),   scale = T / N
// The upstream gradient stays on the GPU (grad_loss), so backward needs no read-back.
// One workgroup per row (1-D dispatch of `rows` workgroups, folded by the runtime if needed).
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"

// scale: used by klBackward only (the forward's scaling is in scaled_total).
struct Params { rows: u32, cols: u32, temperature: f32, scale: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read> grad_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> ds: array<f32>;

// A row's log-softmax of z / T is (z - shift) / T with shift = max(z) + T * log(sum exp((z - max) / T)).
struct Shifts { student: f32, teacher: f32 };

fn log_softmax_shifts(base: u32, lid: u32) -> Shifts {
  var ms = LOWEST_F32;
  var mt = LOWEST_F32;
  for (var j = lid; j < p.cols; j = j + WG) {
    ms = max(ms, s[base + j]);
    mt = max(mt, t[base + j]);
  }
  ms = workgroup_max(ms, lid);
  mt = workgroup_max(mt, lid);
  var ss = 0.0;
  var st = 0.0;
  for (var j = lid; j < p.cols; j = j + WG) {
    ss = ss + exp((s[base + j] - ms) / p.temperature);
    st = st + exp((t[base + j] - mt) / p.temperature);
  }
  ss = workgroup_sum(ss, lid);
  st = workgroup_sum(st, lid);
  return Shifts(ms + p.temperature * log(ss), mt + p.temperature * log(st));
}

@compute @workgroup_size(WG)
fn klRowForward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let sh = log_softmax_shifts(base, lid);
  var kl = 0.0;
  for (var j = lid; j < p.cols; j = j + WG) {
    let log_pt = (t[base + j] - sh.teacher) / p.temperature;
    let log_ps = (s[base + j] - sh.student) / p.temperature;
    let pt = exp(log_pt);
    // 0 * log 0 = 0: a teacher probability that underflows contributes nothing.
    if (pt > 0.0) { kl = kl + pt * (log_pt - log_ps); }
  }
  kl = workgroup_sum(kl, lid);
  if (lid == 0u) { row_loss[row] = kl; }
}

@compute @workgroup_size(WG)
fn klBackward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let sh = log_softmax_shifts(base, lid);
  let g = grad_loss[0] * p.scale;
  for (var j = lid; j < p.cols; j = j + WG) {
    let ps = exp((s[base + j] - sh.student) / p.temperature);
    let pt = exp((t[base + j] - sh.teacher) / p.temperature);
    ds[base + j] = g * (ps - pt);
  }
}
