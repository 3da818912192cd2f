// conv2dForward: y = conv2d(x, w) + bias, PyTorch semantics (cross-correlation, zero padding).
//   x: N,C,H,W   w: O,C,KH,KW   bias: O   y: N,O,OH,OW
//   y[b,o,oh,ow] = bias[o] + sum_{c,kh,kw} w[o,c,kh,kw] * x[b,c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
// As an implicit GEMM (gemm_tile.wgsl): C[m][n] = sum_k A[m][k] B[k][n] with
//   m = o                       (M = O)
//   n = (b*OH + oh)*OW + ow     (N = N*OH*OW, one output pixel)
//   k = (c*KH + kh)*KW + kw     (K = C*KH*KW, the weight's own row layout)
//   A = w viewed as [O, K];  B[k][n] = the input value tap k reads for pixel n (0 in the padding)
// Dispatch: [ceil(N/BN), ceil(M/BM)] workgroups of (WG_N, WG_M).
// Bias: added when has_bias != 0; otherwise `bias` is bound to any f32 buffer and never read.
#include "gemm_tile.wgsl"

struct Params {
  batch: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride_h: i32, stride_w: i32, pad_h: i32,
  pad_w: i32, dil_h: i32, dil_w: i32, has_bias: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = p.O;
  let OHW = p.OH * p.OW;
  let N = p.batch * OHW;
  let K = p.C * p.KH * p.KW;
  let HW = p.H * p.W;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;

  // A staging: weight row a_m, k positions a_row .. a_row + A_LOADS - 1 of each slice.
  let a_m = m0 + li % BM;
  let a_row = (li / BM) * A_LOADS;

  // B staging: one output pixel n (fixed for the whole loop), consecutive k from b_row.
  let b_col = li % BN;
  let n = n0 + b_col;
  let n_ok = n < N;
  let pixel = n % OHW;
  let x_img = (n / OHW) * p.C * HW;
  let ih0 = i32(pixel / p.OW) * p.stride_h - p.pad_h;
  let iw0 = i32(pixel % p.OW) * p.stride_w - p.pad_w;
  let b_row = (li / BN) * B_LOADS;
  // k as digits (c, kh, kw), walked by addition (see radix_add).
  let radices = vec3<u32>(0u, p.KH, p.KW);
  let one = radix_split(1u, radices);
  let slice = radix_split(BK, radices);
  var tap = radix_split(b_row, radices);

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    for (var j = 0u; j < A_LOADS; j++) {
      let k = k0 + a_row + j;
      var v = 0.0;
      if (a_m < M && k < K) { v = w[a_m * K + k]; }
      tile_a[(a_row + j) * BM + li % BM] = v;
    }
    var t = tap;
    for (var j = 0u; j < B_LOADS; j++) {
      let ih = ih0 + i32(t.y) * p.dil_h;
      let iw = iw0 + i32(t.z) * p.dil_w;
      var v = 0.0;
      if (n_ok && t.x < p.C && ih >= 0 && ih < i32(p.H) && iw >= 0 && iw < i32(p.W)) {
        v = x[x_img + t.x * HW + u32(ih) * p.W + u32(iw)];
      }
      tile_b[(b_row + j) * BN + b_col] = v;
      t = radix_add(t, one, radices);
    }
    tap = radix_add(tap, slice, radices);
    workgroupBarrier();
    gemm_multiply_tile(&acc, lid.x, lid.y);
    workgroupBarrier();
  }

  // Store: this invocation's 4 pixels (columns) for each of its 4 output channels (rows).
  var y_col: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) {
    let nj = n0 + lid.x * 4u + j;
    y_col[j] = (nj / OHW) * M * OHW + nj % OHW;
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= M) { break; }
    var b_m = 0.0;
    if (p.has_bias != 0u) { b_m = bias[m]; }
    for (var j = 0u; j < 4u; j++) {
      if (n0 + lid.x * 4u + j >= N) { break; }
      y[y_col[j] + m * OHW] = acc[i][j] + b_m;
    }
  }
}
