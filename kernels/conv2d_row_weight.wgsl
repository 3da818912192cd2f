// The weight of a conv2d in the layout the row kernels read (conv2d_forward_row.wgsl): each row
// of KW taps as V4 = ceil(KW / 4) vec4s, zero-padded, reduction-major (the output channel varies
// fastest, so the 16 rows one reduction step loads share cache lines).
//   w: O,C,KH,KW
//   pack:        w4[c,kh,o,v] = (w[o,c,kh,4v], .., w[o,c,kh,4v+3])                     w4: C,KH,O,V4
//   packFlipped: w4[o,kh,c,v] = (w[o,c,KH-1-kh,KW-1-4v], .., w[o,c,KH-1-kh,KW-1-(4v+3)])  w4: O,KH,C,V4
// (taps past KW are 0). packFlipped is the weight of the transposed correlation that gives a
// stride-1 layer's input gradient (engine/ops/conv2d.ts conv2dBackwardInput): channel axes
// swapped, taps reversed.
// One invocation per vec4; 1-D dispatch of ceil(O*C*KH*V4 / WG) workgroups (possibly folded to 2-D).
#include "common.wgsl"

struct Params { O: u32, C: u32, KH: u32, KW: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> w4: array<vec4<f32>>;

override WG: u32 = 256;

// Taps kw0 .. kw0+3 of row (o, c, kh) of w, reversed when flip, 0 past the row.
fn taps4(o: u32, c: u32, kh: u32, kw0: u32, flip: bool) -> vec4<f32> {
  let row = ((o * p.C + c) * p.KH + kh) * p.KW;
  var v = vec4<f32>();
  for (var q = 0u; q < 4u; q++) {
    let kw = kw0 + q;
    if (kw < p.KW) { v[q] = w[row + select(kw, p.KW - 1u - kw, flip)]; }
  }
  return v;
}

@compute @workgroup_size(WG)
fn pack(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let V4 = (p.KW + 3u) / 4u;
  let i = linear_workgroup(wid, nwg) * WG + lid;   // ((c*KH + kh)*O + o)*V4 + v
  if (i >= p.O * p.C * p.KH * V4) { return; }
  let v = i % V4;
  let o = (i / V4) % p.O;
  let ckh = i / (V4 * p.O);
  w4[i] = taps4(o, ckh / p.KH, ckh % p.KH, 4u * v, false);
}

@compute @workgroup_size(WG)
fn packFlipped(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let V4 = (p.KW + 3u) / 4u;
  let i = linear_workgroup(wid, nwg) * WG + lid;   // ((o*KH + kh)*C + c)*V4 + v
  if (i >= p.O * p.C * p.KH * V4) { return; }
  let v = i % V4;
  let c = (i / V4) % p.C;
  let okh = i / (V4 * p.C);
  w4[i] = taps4(okh / p.KH, c, p.KH - 1u - okh % p.KH, 4u * v, true);
}
