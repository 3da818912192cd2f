// The shared body of the elementwise mean losses (loss/mse_loss.wgsl, loss/l1_loss.wgsl). The including
// file defines the per-element term and its derivative in d = a - b:
//   fn loss_term(d: f32) -> f32     e.g. d*d, |d|
//   fn loss_slope(d: f32) -> f32    e.g. d (the 2 lives in `scale`), sign(d)
// a, b, grad: n elements (flat, same shape).  partials: one per workgroup.  grad_loss: [1].
//   partials: partials[w] = sum of loss_term(a[i] - b[i]) over the elements workgroup w strides
//             over (the mean, sum / n, happens in reduce/scaled_total.wgsl). 1-D dispatch of `groups`
//             workgroups; invocation k of workgroup w visits i = w*WG + k, then i += groups*WG, so a
//             bounded number of partials covers any n.
//   backward: grad[i] = grad_loss[0] * scale * loss_slope(a[i] - b[i]); scale carries 1/n, the
//             constant factor and the sign (+ for a, - for b). 1-D dispatch of ceil(n / WG) workgroups.
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"

// groups: used by `partials` only; scale: by `backward` only.
struct Params { n: u32, groups: u32, scale: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read> grad_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn partialSums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let w = linear_workgroup(wid, nwg);
  if (w >= p.groups) { return; }
  var acc = 0.0;
  for (var i = w * WG + lid; i < p.n; i = i + p.groups * WG) { acc = acc + loss_term(a[i] - b[i]); }
  acc = workgroup_sum(acc, lid);
  if (lid == 0u) { partials[w] = acc; }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  grad[i] = grad_loss[0] * p.scale * loss_slope(a[i] - b[i]);
}
