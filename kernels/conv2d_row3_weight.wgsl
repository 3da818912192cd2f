// The weight of a 3-wide conv2d in the layout the row3 forward kernel reads
// (conv2d_forward_row3.wgsl): one vec4 per row of three taps, the fourth lane 0.
//   w: O,C,KH,3
//   pack:        w4[c,kh,o] = (w[o,c,kh,0], w[o,c,kh,1], w[o,c,kh,2], 0)                 w4: C,KH,O
//   packFlipped: w4[o,kh,c] = (w[o,c,KH-1-kh,2], w[o,c,KH-1-kh,1], w[o,c,KH-1-kh,0], 0)   w4: O,KH,C
// Reduction-major (the output channel varies fastest): the row3 kernel loads, per reduction
// step, one vec4 for each of 16 consecutive output channels, which then share cache lines.
// packFlipped is the weight of the transposed correlation that gives a stride-1 layer's input
// gradient (engine/ops/conv2d.ts conv2dBackwardInput): channel axes swapped, taps reversed.
// One invocation per vec4; 1-D dispatch of ceil(O*C*KH / WG) workgroups (possibly folded to 2-D).
#include "common.wgsl"

struct Params { O: u32, C: u32, KH: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> w4: array<vec4<f32>>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn pack(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;   // (c*KH + kh)*O + o
  if (i >= p.O * p.C * p.KH) { return; }
  let o = i % p.O;
  let ckh = i / p.O;                                // c*KH + kh
  let src = 3u * (o * p.C * p.KH + ckh);
  w4[i] = vec4<f32>(w[src], w[src + 1u], w[src + 2u], 0.0);
}

@compute @workgroup_size(WG)
fn packFlipped(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;   // (o*KH + kh)*C + c
  if (i >= p.O * p.C * p.KH) { return; }
  let c = i % p.C;
  let okh = i / p.C;
  let kh = okh % p.KH;
  let o = okh / p.KH;
  let src = 3u * ((o * p.C + c) * p.KH + (p.KH - 1u - kh));
  w4[i] = vec4<f32>(w[src + 2u], w[src + 1u], w[src], 0.0);
}
