// One SGD step over one parameter buffer, in place. param, grad, momentum_buf: n elements (flat).
// PyTorch semantics (torch.optim.SGD, no dampening, no Nesterov):
//   g = grad + weight_decay * param
//   sgd:          param -= lr * g
//   sgdMomentum:  buf = momentum * buf + g;  param -= lr * buf
// PyTorch starts the buffer as the first gradient; the wrapper starts it at zero, which gives
// exactly that (momentum * 0 + g == g in float32).
// 1-D dispatch of ceil(n / WG) workgroups, folded by the runtime if needed.
#include "include/common.wgsl"

struct Params { n: u32, lr: f32, momentum: f32, weight_decay: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> momentum_buf: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let g = grad[i] + p.weight_decay * param[i];
  param[i] = param[i] - p.lr * g;
}

@compute @workgroup_size(WG)
fn sgdMomentum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let g = grad[i] + p.weight_decay * param[i];
  let buf = p.momentum * momentum_buf[i] + g;
  momentum_buf[i] = buf;
  param[i] = param[i] - p.lr * buf;
}
