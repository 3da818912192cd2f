// conv2dForward: y = conv2d(x, w) + bias, PyTorch semantics (cross-correlation, zero padding).
//   x: N,C,H,W   w: O,C,KH,KW   bias: O   y: N,O,OH,OW
//   y[b,o,oh,ow] = bias[o] + sum_{c,kh,kw} w[o,c,kh,kw] * x[b,c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
// As an implicit GEMM (register blocks: gemm_tile.wgsl): C[m][n] = sum_k A[m][k] B[k][n] with
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

// A row far above the image: a column past N reads nothing (every tap falls outside).
const NO_PIXEL: i32 = -1073741824;

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = p.O;
  let OHW = p.OH * p.OW;
  let N = p.batch * OHW;
  let K = p.C * p.KH * p.KW;
  let HW = p.H * p.W;
  let m0 = wid.y * BM + lid.y * TM;
  let n0 = wid.x * BN + lid.x * TN;
  // Invocations whose whole block lies past the output (small M, e.g. 3 input channels) have
  // nothing to do; there are no barriers, so they can leave at once.
  if (m0 >= M || n0 >= N) { return; }

  // Rows past M read the last weight row (a valid address); their results are never stored.
  var w_row: array<u32, 8>;
  for (var i = 0u; i < TM; i++) { w_row[i] = min(m0 + i, M - 1u) * K; }
  // Each column's pixel: image offset and the input position of its window's corner.
  var x_img: array<u32, 8>;
  var ih0: array<i32, 8>;
  var iw0: array<i32, 8>;
  for (var j = 0u; j < TN; j++) {
    let n = n0 + j;
    let pixel = n % OHW;
    x_img[j] = (n / OHW) * p.C * HW;
    ih0[j] = select(NO_PIXEL, i32(pixel / p.OW) * p.stride_h - p.pad_h, n < N);
    iw0[j] = i32(pixel % p.OW) * p.stride_w - p.pad_w;
  }

  var acc: array<vec4<f32>, 16>;
  var a: array<f32, 8>;
  var b: array<f32, 8>;
  let radices = vec3<u32>(0u, p.KH, p.KW);
  var tap = vec3<u32>(0u, 0u, 0u);   // (c, kh, kw) of k
  for (var k = 0u; k < K; k++) {
    for (var i = 0u; i < TM; i++) { a[i] = w[w_row[i] + k]; }
    let chan = tap.x * HW;
    let dh = i32(tap.y) * p.dil_h;
    let dw = i32(tap.z) * p.dil_w;
    for (var j = 0u; j < TN; j++) {
      let ih = ih0[j] + dh;
      let iw = iw0[j] + dw;
      var v = 0.0;
      // One unsigned compare per axis: a negative position wraps to a huge u32.
      if (u32(ih) < p.H && u32(iw) < p.W) { v = x[x_img[j] + chan + u32(ih) * p.W + u32(iw)]; }
      b[j] = v;
    }
    block_update(&acc, &a, &b);
    tap = radix_next(tap, radices);
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    var b_m = 0.0;
    if (p.has_bias != 0u) { b_m = bias[m]; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j;
      if (n >= N) { break; }
      y[((n / OHW) * M + m) * OHW + n % OHW] = block_value(&acc, i, j) + b_m;
    }
  }
}
