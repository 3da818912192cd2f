// conv2dBackwardWeight: dw = dL/dw of y = conv2d(x, w).
//   x: N,C,H,W   dy: N,O,OH,OW   dw: O,C,KH,KW
//   dw[o,c,kh,kw] = sum_{b,oh,ow} dy[b,o,oh,ow] * x[b,c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
// As an implicit GEMM (register blocks: gemm_tile.wgsl):
//   m = o                        (M = O)
//   n = (c*KH + kh)*KW + kw      (N = C*KH*KW, the weight's own row layout)
//   k = (b*OH + oh)*OW + ow      (K = N*OH*OW: a long reduction over the batch and the map)
//   A[m][k] = dy[b,o,oh,ow];  B[k][n] = the input value tap n reads for output pixel k (0 in the padding)
// Split-K: workgroup z reduces k in [z*k_split, min(K, (z+1)*k_split)) and writes its partial
// sums to out[z, M, N]. With one split, `out` is dw itself; otherwise conv2dBackwardWeightSum
// (split_k_sum.wgsl) adds the slices in a fixed order, so the result is deterministic (no atomics).
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

// A row offset far above the image: a column past N reads nothing.
const NO_TAP: i32 = -1073741824;

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = p.O;
  let KHW = p.KH * p.KW;
  let N = p.C * KHW;
  let OHW = p.OH * p.OW;
  let K = p.batch * OHW;
  let HW = p.H * p.W;
  let m0 = wid.y * BM + lid.y * TM;
  let n0 = wid.x * BN + lid.x * TN;
  // Invocations whose whole block lies past the output (small M, e.g. 3 input channels) have
  // nothing to do; there are no barriers, so they can leave at once.
  if (m0 >= M || n0 >= N) { return; }
  let k_begin = wid.z * p.k_split;
  let k_end = min(K, k_begin + p.k_split);

  // dy[b,o,oh,ow] = dy[b*O*OHW + o*OHW + pixel]: the row part o*OHW; rows past M read the last channel.
  var dy_row: array<u32, 8>;
  for (var i = 0u; i < TM; i++) { dy_row[i] = min(m0 + i, M - 1u) * OHW; }
  // Each column's weight position (c, kh, kw): channel offset and the tap's shift from oh*sh, ow*sw.
  var x_chan: array<u32, 8>;
  var dh: array<i32, 8>;
  var dw: array<i32, 8>;
  for (var j = 0u; j < TN; j++) {
    let n = n0 + j;
    let t = radix_split(n, vec3<u32>(0u, p.KH, p.KW));
    x_chan[j] = t.x * HW;
    dh[j] = select(NO_TAP, i32(t.y) * p.dil_h - p.pad_h, n < N);
    dw[j] = i32(t.z) * p.dil_w - p.pad_w;
  }

  var acc: array<vec4<f32>, 16>;
  var a: array<f32, 8>;
  var b: array<f32, 8>;
  let radices = vec3<u32>(0u, p.OH, p.OW);
  var pix = radix_split(k_begin, radices);   // (b, oh, ow) of k
  for (var k = k_begin; k < k_end; k++) {
    let dy_pix = pix.x * M * OHW + pix.y * p.OW + pix.z;
    for (var i = 0u; i < TM; i++) { a[i] = dy[dy_row[i] + dy_pix]; }
    let x_img = pix.x * p.C * HW;
    let oh = i32(pix.y) * p.stride_h;
    let ow = i32(pix.z) * p.stride_w;
    for (var j = 0u; j < TN; j++) {
      let ih = oh + dh[j];
      let iw = ow + dw[j];
      var v = 0.0;
      // One unsigned compare per axis: a negative position wraps to a huge u32.
      if (u32(ih) < p.H && u32(iw) < p.W) { v = x[x_img + x_chan[j] + u32(ih) * p.W + u32(iw)]; }
      b[j] = v;
    }
    block_update(&acc, &a, &b);
    pix = radix_next(pix, radices);
  }

  let slice = wid.z * M * N;
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j;
      if (n >= N) { break; }
      out[slice + m * N + n] = block_value(&acc, i, j);
    }
  }
}
