// Cross-entropy of logits against integer class labels, per row, and its gradient.
// logits, dlogits: rows,cols.  labels: rows (i32).  row_loss: rows.  grad_loss: [1].
//   ceRowForward: row_loss[r] = logsumexp_j(logits[r,j]) - logits[r, labels[r]]
//                 (the batch mean happens in reduce/scaled_total.wgsl)
//   ceBackward:   dlogits[r,j] = grad_loss[0] * scale * (softmax(logits[r])_j - [j == labels[r]]),  scale = 1 / N
// A label outside [0, cols) cannot index the row: its row loss and gradient are set to
// `invalid` (the wrapper passes NaN), so a bad label tensor poisons the loss visibly.
// One workgroup per row (1-D dispatch of `rows` workgroups, folded by the runtime if needed).
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"

// scale: used by ceBackward only (the forward's mean is in scaled_total).
struct Params { rows: u32, cols: u32, scale: f32, invalid: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read> grad_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;

// logsumexp of a row, computed as max + log(sum exp(x - max)) so it never overflows.
fn row_logsumexp(base: u32, lid: u32) -> f32 {
  var m = LOWEST_F32;
  for (var j = lid; j < p.cols; j = j + WG) { m = max(m, logits[base + j]); }
  m = workgroup_max(m, lid);
  var s = 0.0;
  for (var j = lid; j < p.cols; j = j + WG) { s = s + exp(logits[base + j] - m); }
  s = workgroup_sum(s, lid);
  return m + log(s);
}

fn label_ok(label: i32) -> bool {
  return label >= 0 && u32(label) < p.cols;
}

@compute @workgroup_size(WG)
fn ceRowForward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let lse = row_logsumexp(base, lid);
  if (lid == 0u) {
    let label = labels[row];
    if (label_ok(label)) { row_loss[row] = lse - logits[base + u32(label)]; } else { row_loss[row] = p.invalid; }
  }
}

@compute @workgroup_size(WG)
fn ceBackward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let lse = row_logsumexp(base, lid);
  let label = labels[row];
  if (!label_ok(label)) {
    for (var j = lid; j < p.cols; j = j + WG) { dlogits[base + j] = p.invalid; }
    return;
  }
  let g = grad_loss[0] * p.scale;
  for (var j = lid; j < p.cols; j = j + WG) {
    let one_hot = select(0.0, 1.0, i32(j) == label);
    dlogits[base + j] = g * (exp(logits[base + j] - lse) - one_hot);
  }
}
