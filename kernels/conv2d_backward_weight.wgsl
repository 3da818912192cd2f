// conv2dBackwardWeight: dw = dL/dw of y = conv2d(x, w).
//   x: N,C,H,W   dy: N,O,OH,OW   dw: O,C,KH,KW
//   dw[o,c,kh,kw] = sum_{b,oh,ow} dy[b,o,oh,ow] * x[b,c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
// As an implicit GEMM (gemm_tile.wgsl):
//   m = o                        (M = O)
//   n = (c*KH + kh)*KW + kw      (N = C*KH*KW, the weight's own row layout)
//   k = (b*OH + oh)*OW + ow      (K = N*OH*OW: a long reduction over the batch and the map)
//   A[m][k] = dy[b,o,oh,ow];  B[k][n] = the input value tap n reads for output pixel k (0 in the padding)
// Split-K: workgroup z reduces k in [z*k_split, min(K, (z+1)*k_split)) and writes its partial
// sums to out[z, M, N] (k_split is a multiple of BK). With one split, `out` is dw itself;
// otherwise conv2dBackwardWeightSum (split_k_sum.wgsl) adds the slices in a fixed order, so the
// result is deterministic (no atomics).
// Dispatch: [ceil(N/BN), ceil(M/BM), splits] workgroups of (WG_N, WG_M).
#include "gemm_tile.wgsl"

struct Params {
  batch: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride_h: i32, stride_w: i32, pad_h: i32,
  pad_w: i32, dil_h: i32, dil_w: i32, k_split: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = p.O;
  let KHW = p.KH * p.KW;
  let N = p.C * KHW;
  let OHW = p.OH * p.OW;
  let K = p.batch * OHW;
  let HW = p.H * p.W;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let k_begin = wid.z * p.k_split;
  let k_end = min(K, k_begin + p.k_split);
  // k as digits (b, oh, ow), walked by addition.
  let radices = vec3<u32>(0u, p.OH, p.OW);
  let one = radix_split(1u, radices);
  let slice = radix_split(BK, radices);

  // A staging: output channel a_m, consecutive output pixels k from a_row.
  let a_m = m0 + li % BM;
  let a_row = (li / BM) * A_LOADS;
  var a_pix = radix_split(k_begin + a_row, radices);

  // B staging: one weight position n = (c, kh, kw) (fixed), consecutive output pixels from b_row.
  let b_col = li % BN;
  let n = n0 + b_col;
  let n_ok = n < N;
  let tap = radix_split(n, vec3<u32>(0u, p.KH, p.KW));
  let x_chan = tap.x * HW;
  let dh = i32(tap.y) * p.dil_h - p.pad_h;
  let dw = i32(tap.z) * p.dil_w - p.pad_w;
  let b_row = (li / BN) * B_LOADS;
  var b_pix = radix_split(k_begin + b_row, radices);

  var acc: array<vec4<f32>, 4>;
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    var q = a_pix;
    for (var j = 0u; j < A_LOADS; j++) {
      var v = 0.0;
      if (a_m < M && k0 + a_row + j < k_end) { v = dy[(q.x * M + a_m) * OHW + q.y * p.OW + q.z]; }
      tile_a[(a_row + j) * BM + li % BM] = v;
      q = radix_add(q, one, radices);
    }
    a_pix = radix_add(a_pix, slice, radices);
    var r = b_pix;
    for (var j = 0u; j < B_LOADS; j++) {
      let ih = i32(r.y) * p.stride_h + dh;
      let iw = i32(r.z) * p.stride_w + dw;
      var v = 0.0;
      if (n_ok && k0 + b_row + j < k_end && ih >= 0 && ih < i32(p.H) && iw >= 0 && iw < i32(p.W)) {
        v = x[r.x * p.C * HW + x_chan + u32(ih) * p.W + u32(iw)];
      }
      tile_b[(b_row + j) * BN + b_col] = v;
      r = radix_add(r, one, radices);
    }
    b_pix = radix_add(b_pix, slice, radices);
    workgroupBarrier();
    gemm_multiply_tile(&acc, lid.x, lid.y);
    workgroupBarrier();
  }

  let slice_base = wid.z * M * N;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let nj = n0 + lid.x * 4u + j;
      if (nj >= N) { break; }
      out[slice_base + m * N + nj] = acc[i][j];
    }
  }
}
