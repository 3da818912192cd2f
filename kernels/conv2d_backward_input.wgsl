// conv2dBackwardInput: dx = dL/dx of y = conv2d(x, w), a transposed convolution of dy.
//   dy: N,O,OH,OW   w: O,C,KH,KW   dx: N,C,H,W
//   dx[b,c,ih,iw] = sum_{o,kh,kw} w[o,c,kh,kw] * dy[b,o,oh,ow]
//     over the taps that land: ih + ph - kh*dh = oh*sh exactly, 0 <= oh < OH (same for w);
//   positions no window reads get 0.
// As an implicit GEMM (register blocks and invocation layout: gemm_tile.wgsl):
//   m = c                       (M = C)
//   n = (b*H + ih)*W + iw       (N = N*H*W, one input pixel)
//   k = (o*KH + kh)*KW + kw     (K = O*KH*KW)
//   A[m][k] = w[o,c,kh,kw] (the weight read transposed);  B[k][n] = dy at the landing pixel, or 0
// Taps that land nowhere (most of them with stride > 1) still cost their multiply-adds, of zeros:
// the row values are shared through subgroup operations, so every step runs for every invocation.
// Included by conv2d_backward_input_with_subgroups.wgsl / _without_subgroups.wgsl.
// Dispatch: [ceil(N / (WG*TN)), ceil(M / TM)] workgroups.

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

// Set (an override constant, so the pipeline compiles one branch of `landing`) when both strides
// are 1: every tap then lands on oh = t and only the range needs checking, as in the forward pass.
override UNIT_STRIDE: bool = false;

// The output row (or column) that a tap from input position `t` (already shifted by the padding
// and the tap offset) lands on, or -1: it must be a whole multiple of the stride s and below
// `limit`. Without branches or integer division (both are slow on CPU adapters, where every
// invocation's branch is taken in lockstep and a vector division runs lane by lane):
// q = floor((t + 0.5) / s) in f32 is exact for |t| < 2^21 (the true quotient is at least 0.5/s away
// from an integer, far more than the rounding error), and q * s == t tests divisibility.
// inv_s = 1 / s.
fn landing(t: i32, s: i32, inv_s: f32, limit: u32) -> i32 {
  if (UNIT_STRIDE) { return select(-1, t, u32(t) < limit); }
  let q = i32(floor((f32(t) + 0.5) * inv_s));
  return select(-1, q, (t >= 0) & (q * s == t) & (q < i32(limit)));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, ids: GemmInvocation) {
  let M = p.C;
  let HW = p.H * p.W;
  let N = p.batch * HW;
  let KHW = p.KH * p.KW;
  let K = p.O * KHW;
  let OHW = p.OH * p.OW;
  let m0 = block_row0(wid);
  let n0 = block_col0(wid, ids);

  // No early exit for invocations past the output: the row values are shared through subgroup
  // operations, which need every invocation. Out-of-range rows and columns read valid addresses
  // (or nothing) and are never stored.
  // w[o,c,kh,kw] = w[o*C*KHW + c*KHW + tap]: the row part c*KHW; rows past M read the last channel.
  var w_row: array<u32, A_LOADS>;
  for (var r = 0u; r < A_LOADS; r++) { w_row[r] = min(m0 + a_load_row(r, ids), M - 1u) * KHW; }
  // Each column's input pixel, shifted by the padding: t = ih + ph, u = iw + pw (t past every
  // output row for columns past N), and its image's offset in dy.
  var dy_img: array<u32, TN>;
  var th0: array<i32, TN>;
  var tw0: array<i32, TN>;
  for (var j = 0u; j < TN; j++) {
    let n = n0 + j * WG;
    let pixel = n % HW;
    dy_img[j] = select(0u, (n / HW) * p.O * OHW, n < N);
    th0[j] = select(NO_PIXEL, i32(pixel / p.W) + p.pad_h, n < N);
    tw0[j] = i32(pixel % p.W) + p.pad_w;
  }

  var acc: array<f32, BLOCK>;
  var a: array<f32, A_LOADS>;
  var b: array<f32, TN>;
  let radices = vec3<u32>(0u, p.KH, p.KW);
  var tap = vec3<u32>(0u, 0u, 0u);   // (o, kh, kw) of k
  let w_o_stride = p.C * KHW;
  let inv_sh = 1.0 / f32(p.stride_h);
  let inv_sw = 1.0 / f32(p.stride_w);
  for (var k = 0u; k < K; k++) {
    let w_tap = tap.x * w_o_stride + tap.y * p.KW + tap.z;
    for (var r = 0u; r < A_LOADS; r++) { a[r] = w[w_row[r] + w_tap]; }
    let chan = tap.x * OHW;
    let dh = i32(tap.y) * p.dil_h;
    let dw = i32(tap.z) * p.dil_w;
    for (var j = 0u; j < TN; j++) {
      let oh = landing(th0[j] - dh, p.stride_h, inv_sh, p.OH);
      let ow = landing(tw0[j] - dw, p.stride_w, inv_sw, p.OW);
      // Taps that land nowhere read offset 0 and are zeroed, which keeps the loop free of
      // divergent branches.
      let lands = (oh >= 0) & (ow >= 0);
      b[j] = select(0.0, dy[select(0u, dy_img[j] + chan + u32(oh) * p.OW + u32(ow), lands)], lands);
    }
    block_update(&acc, &a, &b);
    tap = radix_next(tap, radices);
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j * WG;
      if (n < N) { dx[((n / HW) * M + m) * HW + n % HW] = acc[i * TN + j]; }
    }
  }
}
