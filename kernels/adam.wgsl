// One Adam / AdamW step over one parameter buffer, in place.
// param, grad, exp_avg (m), exp_avg_sq (v): n elements (flat). PyTorch semantics (torch.optim.Adam /
// AdamW, amsgrad off), t = this parameter's step count (from 1):
//   adam:  g = grad + weight_decay * param                 (L2 penalty added to the gradient)
//   adamw: param *= decay_factor, decay_factor = 1 - lr * weight_decay;  g = grad   (decoupled decay)
//   then   m = beta1 * m + (1 - beta1) * g
//          v = beta2 * v + (1 - beta2) * g * g
//          param -= step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
//   with step_size = lr / (1 - beta1^t) and bias_correction2_sqrt = sqrt(1 - beta2^t) computed in
//   float64 on the host; eps is added after the bias-corrected sqrt(v), as PyTorch does.
//   1 - beta1 and 1 - beta2 also come from the host: in float32, 1 - f32(0.999) is off by 1.3e-5
//   relative (cancellation), which would bias v against its float64 bias correction.
// 1-D dispatch of ceil(n / WG) workgroups, folded by the runtime if needed.
#include "common.wgsl"

struct Params {
  n: u32,
  step_size: f32,
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  eps: f32,
  weight_decay: f32,
  decay_factor: f32,
  bias_correction2_sqrt: f32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;

override WG: u32 = 256;

// The moment updates and the parameter step shared by both variants; `w` is the parameter
// value after any decoupled decay.
fn adam_update(i: u32, w: f32, g: f32) {
  let m = p.beta1 * exp_avg[i] + p.one_minus_beta1 * g;
  let v = p.beta2 * exp_avg_sq[i] + p.one_minus_beta2 * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  param[i] = w - p.step_size * m / (sqrt(v) / p.bias_correction2_sqrt + p.eps);
}

@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let w = param[i];
  adam_update(i, w, grad[i] + p.weight_decay * w);
}

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  adam_update(i, param[i] * p.decay_factor, grad[i]);
}
