// conv2dBackwardInputTiled: dx = dL/dx of y = conv2d(x, w), as conv2d/backward_input.wgsl (one
// dispatch per stride phase, same uniforms, see there), on the workgroup-memory tiled core
// (gemm/shared_tile.wgsl; variants: CONV2D_VARIANTS.backwardInputTiled in engine/ops/conv2d.ts).
//   dy: N,O,OH,OW   w: O,C,KH,KW   dx: N,C,H,W
// Per phase, as an implicit GEMM:
//   m = c                          (M = C)
//   n = (b*QH + qh)*QW + qw        (N = N*QH*QW, the phase's input pixels)
//   k = (o*NKH + u)*NKW + v        (K = O*NKH*NKW, the phase's taps; 0 if none: dx stays 0)
//   A[m][k] = w[o,c,kh0 + u*kh_step, kw0 + v*kw_step] (neighbouring c are KH*KW apart, neighbouring
//   taps kh_step or kw_step apart: walked along m, contiguous for 1x1 kernels);
//   B[k][n] = dy[b,o,oh0 + qh - u*oh_step, ow0 + qw - v*ow_step] or 0 outside dy (walked along n).
// Dispatch: [ceil(N / BN), ceil(M / BM)] workgroups per phase.

struct Params {
  batch: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride_h: u32, stride_w: u32, ih_first: u32,
  iw_first: u32, QH: u32, QW: u32, kh0: u32,
  kw0: u32, kh_step: u32, kw_step: u32, NKH: u32,
  NKW: u32, oh0: i32, ow0: i32, oh_step: i32,
  ow_step: i32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn a_k_fast() -> bool { return false; }
fn b_n_fast() -> bool { return true; }

// (o, u, v) of reduction index k.
fn phase_tap(k: u32) -> vec3<u32> {
  let taps = p.NKH * p.NKW;
  return vec3<u32>(k / taps, (k % taps) / p.NKW, k % p.NKW);
}

// Per A load slot: its channel's offset c*KH*KW in w.
var<private> w_channel: array<u32, A_LOADS_TILED>;
// Per B load slot: its image's offset in dy and its first landing position (u = v = 0).
var<private> dy_image: array<u32, B_LOADS_TILED>;
var<private> oh0: array<i32, B_LOADS_TILED>;
var<private> ow0: array<i32, B_LOADS_TILED>;

fn a_prepare(t: u32, m: u32) { w_channel[t] = m * p.KH * p.KW; }

fn tile_a(t: u32, k: u32) -> f32 {
  let tap = phase_tap(k);
  let kh = p.kh0 + tap.y * p.kh_step;
  let kw = p.kw0 + tap.z * p.kw_step;
  return w[tap.x * p.C * p.KH * p.KW + w_channel[t] + kh * p.KW + kw];
}

fn b_prepare(t: u32, n: u32) {
  let Q = p.QH * p.QW;
  let q = n % Q;
  dy_image[t] = (n / Q) * p.O * p.OH * p.OW;
  oh0[t] = p.oh0 + i32(q / p.QW);
  ow0[t] = p.ow0 + i32(q % p.QW);
}

fn tile_b(t: u32, k: u32) -> f32 {
  let tap = phase_tap(k);
  let oh = oh0[t] - i32(tap.y) * p.oh_step;
  let ow = ow0[t] - i32(tap.z) * p.ow_step;
  // One unsigned compare per axis: a negative position wraps to a huge u32.
  if (u32(oh) >= p.OH || u32(ow) >= p.OW) { return 0.0; }
  return dy[dy_image[t] + (tap.x * p.OH + u32(oh)) * p.OW + u32(ow)];
}

fn tile_store(m: u32, n: u32, v: f32) {
  let Q = p.QH * p.QW;
  let image = n / Q;
  let q = n % Q;
  let ih = p.ih_first + (q / p.QW) * p.stride_h;
  let iw = p.iw_first + (q % p.QW) * p.stride_w;
  dx[((image * p.C + m) * p.H + ih) * p.W + iw] = v;
}

@compute @workgroup_size(TILE_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  tiled_gemm(p.C, p.batch * p.QH * p.QW, 0u, p.O * p.NKH * p.NKW, wid, lid);
}
