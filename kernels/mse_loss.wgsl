// Mean squared error: forward partial sums and the elementwise gradient.
// a, b, grad: n elements (flat, same shape).  partials: one per workgroup.  grad_loss: [1].
//   msePartials: partials[w] = sum of (a[i] - b[i])^2 over the elements workgroup w strides over
//                (the mean, sum / n, happens in scaled_total.wgsl)
//   mseBackward: grad[i] = grad_loss[0] * scale * (a[i] - b[i]),  scale = 2/n for a, -2/n for b
// msePartials: 1-D dispatch of `groups` workgroups (one partial each); invocation k of workgroup w
// visits i = w*WG + k, then i += groups*WG, so a bounded number of partials covers any n.
// mseBackward: 1-D dispatch of ceil(n / WG) workgroups, folded by the runtime if needed.
#include "common.wgsl"
#include "workgroup_reduce.wgsl"

// groups: used by msePartials only; scale: by mseBackward only.
struct Params { n: u32, groups: u32, scale: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read> grad_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn msePartials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let w = linear_workgroup(wid, nwg);
  if (w >= p.groups) { return; }
  var acc = 0.0;
  for (var i = w * WG + lid; i < p.n; i = i + p.groups * WG) {
    let d = a[i] - b[i];
    acc = acc + d * d;
  }
  acc = workgroup_sum(acc, lid);
  if (lid == 0u) { partials[w] = acc; }
}

@compute @workgroup_size(WG)
fn mseBackward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  grad[i] = grad_loss[0] * p.scale * (a[i] - b[i]);
}
