// conv2dForwardTiled: y = conv2d(x, w) + bias, as conv2d/forward.wgsl, on the workgroup-memory
// tiled core (gemm/shared_tile.wgsl; variants: CONV2D_VARIANTS.forwardTiled in engine/ops/conv2d.ts).
//   x: N,C,H,W   w: O,C,KH,KW   bias: O   y: N,O,OH,OW
// As an implicit GEMM:
//   m = o                       (M = O)
//   n = (b*OH + oh)*OW + ow     (N = N*OH*OW, one output pixel)
//   k = (c*KH + kh)*KW + kw     (K = C*KH*KW, the weight's own row layout)
//   A[m][k] = w[m*K + k] (contiguous along k);  B[k][n] = the input value tap k reads for pixel n
//   (0 in the padding; neighbouring pixels read neighbouring inputs, so B is walked along n).
// Dispatch: [ceil(N / BN), ceil(M / BM)] workgroups. Bias: added when has_bias != 0; otherwise
// `bias` is bound to any f32 buffer and never read.

#include "conv2d/forward_params.wgsl"
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn a_k_fast() -> bool { return true; }
fn b_n_fast() -> bool { return true; }

// Per A load slot: its weight row's offset m*K.
var<private> w_row: array<u32, A_LOADS_TILED>;
// Per B load slot: its pixel's image offset in x and its window corner (may lie in the padding).
var<private> x_image: array<u32, B_LOADS_TILED>;
var<private> ih0: array<i32, B_LOADS_TILED>;
var<private> iw0: array<i32, B_LOADS_TILED>;

fn a_prepare(t: u32, m: u32) { w_row[t] = m * p.C * p.KH * p.KW; }
fn tile_a(t: u32, k: u32) -> f32 { return w[w_row[t] + k]; }

fn b_prepare(t: u32, n: u32) {
  let OHW = p.OH * p.OW;
  let pixel = n % OHW;
  x_image[t] = (n / OHW) * p.C * p.H * p.W;
  ih0[t] = i32(pixel / p.OW) * p.stride_h - p.pad_h;
  iw0[t] = i32(pixel % p.OW) * p.stride_w - p.pad_w;
}

fn tile_b(t: u32, k: u32) -> f32 {
  let KHW = p.KH * p.KW;
  let c = k / KHW;
  let r = k % KHW;
  let ih = ih0[t] + i32(r / p.KW) * p.dil_h;
  let iw = iw0[t] + i32(r % p.KW) * p.dil_w;
  // One unsigned compare per axis: a negative position wraps to a huge u32.
  if (u32(ih) >= p.H || u32(iw) >= p.W) { return 0.0; }
  return x[x_image[t] + (c * p.H + u32(ih)) * p.W + u32(iw)];
}

fn tile_store(m: u32, n: u32, v: f32) {
  let OHW = p.OH * p.OW;
  var out = v;
  if (p.has_bias != 0u) { out += bias[m]; }
  y[((n / OHW) * p.O + m) * OHW + n % OHW] = out;
}

@compute @workgroup_size(TILE_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  tiled_gemm(p.O, p.batch * p.OH * p.OW, 0u, p.C * p.KH * p.KW, wid, lid);
}
