// conv2dFlipWeight: the weight of the transposed correlation that gives a stride-1 conv2d's input
// gradient (engine/ops/conv2d.ts conv2dBackwardInput): swap the channel axes and reverse both taps.
//   w: O,C,KH,KW   flipped: C,O,KH,KW   flipped[c,o,kh,kw] = w[o,c,KH-1-kh,KW-1-kw]
// One invocation per element of `flipped`; 1-D dispatch of ceil(n / WG) workgroups (possibly
// folded to 2-D by the runtime).
#include "common.wgsl"

struct Params { O: u32, C: u32, KH: u32, KW: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> flipped: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  let taps = p.KH * p.KW;
  if (i >= p.O * p.C * taps) { return; }
  let tap = i % taps;
  let co = i / taps;                  // c*O + o
  let o = co % p.O;
  let c = co / p.O;
  let kh = tap / p.KW;
  let kw = tap % p.KW;
  flipped[i] = w[((o * p.C + c) * p.KH + (p.KH - 1u - kh)) * p.KW + (p.KW - 1u - kw)];
}
