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
// adamVec4 / adamwVec4 (n % 4 == 0, most parameters): the same through vec4 views (param4[i] =
// param[4i .. 4i+3], likewise grad4, exp_avg4, exp_avg_sq4), one vec4 per invocation,
// ceil(n / (4 * WG)) workgroups: CPU adapters (lavapipe) fetch each per-invocation storage
// value lane by lane whatever its width, so 4 elements per access run several times faster.
#include "include/common.wgsl"

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
@group(0) @binding(5) var<storage, read_write> param4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> grad4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> exp_avg4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> exp_avg_sq4: array<vec4<f32>>;

override WG: u32 = 256;

// One step of up to 4 elements at once (the f32 entry points use component x): the moment
// updates and the new parameter. `w` is the parameter value after any decoupled decay.
struct AdamStep { param: vec4<f32>, m: vec4<f32>, v: vec4<f32> };

fn adam_step(w: vec4<f32>, g: vec4<f32>, m_old: vec4<f32>, v_old: vec4<f32>) -> AdamStep {
  let m = p.beta1 * m_old + p.one_minus_beta1 * g;
  let v = p.beta2 * v_old + p.one_minus_beta2 * g * g;
  return AdamStep(w - p.step_size * m / (sqrt(v) / p.bias_correction2_sqrt + p.eps), m, v);
}

fn adam_update(i: u32, w: f32, g: f32) {
  let s = adam_step(vec4<f32>(w), vec4<f32>(g), vec4<f32>(exp_avg[i]), vec4<f32>(exp_avg_sq[i]));
  exp_avg[i] = s.m.x;
  exp_avg_sq[i] = s.v.x;
  param[i] = s.param.x;
}

fn adam_update4(i: u32, w: vec4<f32>, g: vec4<f32>) {
  let s = adam_step(w, g, exp_avg4[i], exp_avg_sq4[i]);
  exp_avg4[i] = s.m;
  exp_avg_sq4[i] = s.v;
  param4[i] = s.param;
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

@compute @workgroup_size(WG)
fn adamVec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n / 4u) { return; }
  let w = param4[i];
  adam_update4(i, w, grad4[i] + p.weight_decay * w);
}

@compute @workgroup_size(WG)
fn adamwVec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.n / 4u) { return; }
  adam_update4(i, param4[i] * p.decay_factor, grad4[i]);
}
