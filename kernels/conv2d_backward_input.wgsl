// conv2dBackwardInput: dx = dL/dx of y = conv2d(x, w), a transposed convolution of dy.
//   dy: N,O,OH,OW   w: O,C,KH,KW   dx: N,C,H,W
//   dx[b,c,ih,iw] = sum_{o,kh,kw} w[o,c,kh,kw] * dy[b,o,oh,ow]
//     over the taps that land: ih + ph - kh*dh = oh*sh exactly, 0 <= oh < OH (same for w);
//   positions no window reads get 0.
// As an implicit GEMM (gemm_tile.wgsl):
//   m = c                       (M = C)
//   n = (b*H + ih)*W + iw       (N = N*H*W, one input pixel)
//   k = (o*KH + kh)*KW + kw     (K = O*KH*KW)
//   A[m][k] = w[o,c,kh,kw] (the weight read transposed);  B[k][n] = dy at the landing pixel, or 0
// Dispatch: [ceil(N/BN), ceil(M/BM)] workgroups of (WG_N, WG_M).
#include "gemm_tile.wgsl"

struct Params {
  batch: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride_h: i32, stride_w: i32, pad_h: i32,
  pad_w: i32, dil_h: i32, dil_w: i32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// The output row (or column) that a tap from input position `t` (already shifted by the padding
// and the tap offset) lands on, or -1: it must be a whole multiple of the stride and in range.
// Stride 1, the common case, needs no division.
fn landing(t: i32, s: i32, limit: u32) -> i32 {
  if (t < 0) { return -1; }
  var q = t;
  if (s != 1) {
    q = t / s;
    if (q * s != t) { return -1; }
  }
  return select(-1, q, q < i32(limit));
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = p.C;
  let HW = p.H * p.W;
  let N = p.batch * HW;
  let KHW = p.KH * p.KW;
  let K = p.O * KHW;
  let OHW = p.OH * p.OW;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let radices = vec3<u32>(0u, p.KH, p.KW);
  let one = radix_split(1u, radices);
  let slice = radix_split(BK, radices);

  // A staging: input channel a_m, consecutive k (o, kh, kw) from a_row.
  let a_m = m0 + li % BM;
  let a_row = (li / BM) * A_LOADS;
  var a_tap = radix_split(a_row, radices);

  // B staging: one input pixel n (fixed), consecutive k from b_row.
  let b_col = li % BN;
  let n = n0 + b_col;
  let n_ok = n < N;
  let pixel = n % HW;
  let dy_img = (n / HW) * p.O * OHW;
  let th0 = i32(pixel / p.W) + p.pad_h;
  let tw0 = i32(pixel % p.W) + p.pad_w;
  let b_row = (li / BN) * B_LOADS;
  var b_tap = radix_split(b_row, radices);

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    var ta = a_tap;
    for (var j = 0u; j < A_LOADS; j++) {
      var v = 0.0;
      if (a_m < M && ta.x < p.O) { v = w[(ta.x * p.C + a_m) * KHW + ta.y * p.KW + ta.z]; }
      tile_a[(a_row + j) * BM + li % BM] = v;
      ta = radix_add(ta, one, radices);
    }
    a_tap = radix_add(a_tap, slice, radices);
    var tb = b_tap;
    for (var j = 0u; j < B_LOADS; j++) {
      var v = 0.0;
      if (n_ok && tb.x < p.O) {
        let oh = landing(th0 - i32(tb.y) * p.dil_h, p.stride_h, p.OH);
        let ow = landing(tw0 - i32(tb.z) * p.dil_w, p.stride_w, p.OW);
        if (oh >= 0 && ow >= 0) { v = dy[dy_img + tb.x * OHW + u32(oh) * p.OW + u32(ow)]; }
      }
      tile_b[(b_row + j) * BN + b_col] = v;
      tb = radix_add(tb, one, radices);
    }
    b_tap = radix_add(b_tap, slice, radices);
    workgroupBarrier();
    gemm_multiply_tile(&acc, lid.x, lid.y);
    workgroupBarrier();
  }

  var dx_col: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) {
    let nj = n0 + lid.x * 4u + j;
    dx_col[j] = (nj / HW) * M * HW + nj % HW;
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= M) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (n0 + lid.x * 4u + j >= N) { break; }
      dx[dx_col[j] + m * HW] = acc[i][j];
    }
  }
}
