// The weight of a conv2d in the layout the row kernels read (conv2d/forward_row.wgsl): each row
// of KW taps as V4 = ceil(KW / 4) vec4s, zero-padded, reduction-major (the output channel varies
// fastest, so the 16 rows one reduction step loads share cache lines).
//   w: O,C,KH,KW
//   pack:        w4[c,kh,o,v] = (w[o,c,kh,4v], .., w[o,c,kh,4v+3])                     w4: C,KH,O,V4
//   packFlipped: w4[o,kh,c,v] = (w[o,c,KH-1-kh,KW-1-4v], .., w[o,c,KH-1-kh,KW-1-(4v+3)])  w4: O,KH,C,V4
// (taps past KW are 0). packFlipped is the weight of the transposed correlation that gives a
// stride-1 layer's input gradient (engine/ops/conv2d.ts conv2dBackwardInput): channel axes
// swapped, taps reversed.
// One invocation per vec4; 1-D dispatch of ceil(O*C*KH*V4 / WG) workgroups (possibly folded to 2-D).
// The constant FLIPPED picks packFlipped.
#include "include/common.wgsl"

struct Params { O: u32, C: u32, KH: u32, KW: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> w4: array<vec4<f32>>;

override WG: u32 = 256;

// 'packFlipped' when FLIPPED (an injected constant, 0 or 1: CONV2D_VARIANTS in engine/ops/conv2d.ts) is 1.
const FLIP: bool = FLIPPED == 1u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  // The packed weight's own axes: rows m of its output channels (O, or C when flipped) within
  // (input channel, kh) blocks. i = ((cin*KH + kh)*M + m)*V4 + v.
  let V4 = (p.KW + 3u) / 4u;
  let M = select(p.O, p.C, FLIP);
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.O * p.C * p.KH * V4) { return; }
  let v = i % V4;
  let m = (i / V4) % M;
  let cin_kh = i / (V4 * M);
  let cin = cin_kh / p.KH;
  let kh = cin_kh % p.KH;
  let o = select(m, cin, FLIP);
  let c = select(cin, m, FLIP);
  let row = ((o * p.C + c) * p.KH + select(kh, p.KH - 1u - kh, FLIP)) * p.KW;
  var taps = vec4<f32>();
  for (var q = 0u; q < 4u; q++) {
    let kw = 4u * v + q;
    if (kw < p.KW) { taps[q] = w[row + select(kw, p.KW - 1u - kw, FLIP)]; }
  }
  w4[i] = taps;
}
