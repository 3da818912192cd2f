// Mean absolute error: forward partial sums and the elementwise gradient.
// a, b, grad: n elements (flat, same shape).  partials: one per workgroup.  grad_loss: [1].
//   l1Partials: partials[w] = sum of |a[i] - b[i]| over the elements workgroup w strides over
//               (the mean, sum / n, happens in scaled_total.wgsl)
//   l1Backward: grad[i] = grad_loss[0] * scale * sign(a[i] - b[i]),  scale = 1/n for a, -1/n for b;
//               sign(0) = 0, so a tie gets no gradient (as PyTorch)
// Dispatch as in mse_loss.wgsl: `groups` strided workgroups for the partials, ceil(n / WG) for backward.
#include "common.wgsl"
#include "workgroup_reduce.wgsl"

// groups: used by l1Partials only; scale: by l1Backward only.
struct Params { n: u32, groups: u32, scale: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read> grad_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn l1Partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let w = linear_workgroup(wid, nwg);
  if (w >= p.groups) { return; }
  var acc = 0.0;
  for (var i = w * WG + lid; i < p.n; i = i + p.groups * WG) { acc = acc + abs(a[i] - b[i]); }
  acc = workgroup_sum(acc, lid);
  if (lid == 0u) { partials[w] = acc; }
}

@compute @workgroup_size(WG)
fn l1Backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  grad[i] = grad_loss[0] * p.scale * sign(a[i] - b[i]);
}
