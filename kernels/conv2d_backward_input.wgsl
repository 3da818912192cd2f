// conv2dBackwardInput: dx = dL/dx of y = conv2d(x, w), a transposed convolution of dy.
//   dy: N,O,OH,OW   w: O,C,KH,KW   dx: N,C,H,W
//   dx[b,c,ih,iw] = sum_{o,kh,kw} w[o,c,kh,kw] * dy[b,o,oh,ow]
//     over the taps that land: ih + ph - kh*dh = oh*sh exactly, 0 <= oh < OH (same for w);
//   positions no window reads get 0.
// As an implicit GEMM (register blocks: gemm_tile.wgsl):
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

// A position that no tap reaches: marks columns past N.
const NO_PIXEL: i32 = -1073741824;

// The output row (or column) that a tap from input position `t` (already shifted by the padding
// and the tap offset) lands on, or -1: it must be a whole multiple of the stride and in range.
// Strides 1 and 2 (every layer of the model) need no integer division, which CPUs and many GPUs
// run far slower than shifts; the stride is uniform, so the branches do not diverge.
fn landing(t: i32, s: i32, limit: u32) -> i32 {
  if (t < 0) { return -1; }
  var q = t;
  if (s == 2) {
    if ((t & 1) != 0) { return -1; }
    q = t >> 1u;
  } else if (s != 1) {
    q = t / s;
    if (q * s != t) { return -1; }
  }
  return select(-1, q, q < i32(limit));
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = p.C;
  let HW = p.H * p.W;
  let N = p.batch * HW;
  let KHW = p.KH * p.KW;
  let K = p.O * KHW;
  let OHW = p.OH * p.OW;
  let m0 = wid.y * BM + lid.y * TM;
  let n0 = wid.x * BN + lid.x * TN;
  // Invocations whose whole block lies past the output (small M, e.g. 3 input channels) have
  // nothing to do; there are no barriers, so they can leave at once.
  if (m0 >= M || n0 >= N) { return; }

  // w[o,c,kh,kw] = w[o*C*KHW + c*KHW + tap]: the row part c*KHW; rows past M read the last channel.
  var w_row: array<u32, 8>;
  for (var i = 0u; i < TM; i++) { w_row[i] = min(m0 + i, M - 1u) * KHW; }
  // Each column's input pixel, shifted by the padding: t = ih + ph, u = iw + pw.
  var dy_img: array<u32, 8>;
  var th0: array<i32, 8>;
  var tw0: array<i32, 8>;
  for (var j = 0u; j < TN; j++) {
    let n = n0 + j;
    let pixel = n % HW;
    dy_img[j] = (n / HW) * p.O * OHW;
    th0[j] = select(NO_PIXEL, i32(pixel / p.W) + p.pad_h, n < N);
    tw0[j] = i32(pixel % p.W) + p.pad_w;
  }

  var acc: array<vec4<f32>, 16>;
  var a: array<f32, 8>;
  var b: array<f32, 8>;
  let radices = vec3<u32>(0u, p.KH, p.KW);
  var tap = vec3<u32>(0u, 0u, 0u);   // (o, kh, kw) of k
  let w_o_stride = p.C * KHW;
  for (var k = 0u; k < K; k++) {
    let chan = tap.x * OHW;
    let dh = i32(tap.y) * p.dil_h;
    let dw = i32(tap.z) * p.dil_w;
    var landed = false;
    for (var j = 0u; j < TN; j++) {
      let oh = landing(th0[j] - dh, p.stride_h, p.OH);
      let ow = landing(tw0[j] - dw, p.stride_w, p.OW);
      var v = 0.0;
      if (oh >= 0 && ow >= 0) {
        v = dy[dy_img[j] + chan + u32(oh) * p.OW + u32(ow)];
        landed = true;
      }
      b[j] = v;
    }
    // With stride > 1 most taps land on no column of the block (neighbouring pixels share
    // their row's parity): skip the weight loads and the multiply-adds of zeros.
    if (landed) {
      let w_tap = tap.x * w_o_stride + tap.y * p.KW + tap.z;
      for (var i = 0u; i < TM; i++) { a[i] = w[w_row[i] + w_tap]; }
      block_update(&acc, &a, &b);
    }
    tap = radix_next(tap, radices);
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j;
      if (n >= N) { break; }
      dx[((n / HW) * M + m) * HW + n % HW] = block_value(&acc, i, j);
    }
  }
}
