// conv2dForward: y = conv2d(x, w) + bias, PyTorch semantics (cross-correlation, zero padding).
//   x: N,C,H,W   w: O,C,KH,KW   bias: O   y: N,O,OH,OW
//   y[b,o,oh,ow] = bias[o] + sum_{c,kh,kw} w[o,c,kh,kw] * x[b,c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
// As an implicit GEMM (register blocks and invocation layout: gemm/tile.wgsl):
//   m = o                       (M = O)
//   n = (b*OH + oh)*OW + ow     (N = N*OH*OW, one output pixel)
//   k = (c*KH + kh)*KW + kw     (K = C*KH*KW, the weight's own row layout)
//   A = w viewed as [O, K];  B[k][n] = the input value tap k reads for pixel n (0 in the padding)
// Compiled after either row-sharing snippet, which picks how the weight rows are shared
// (variants: CONV2D_VARIANTS in engine/ops/conv2d.ts). Dispatch: [ceil(N / (WG*TN)), ceil(M / TM)] workgroups.
// Bias: added when has_bias != 0; otherwise `bias` is bound to any f32 buffer and never read.

#include "conv2d/forward_params.wgsl"
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// A row far above the image: a column past N reads nothing (every tap falls outside).
const NO_PIXEL: i32 = -1073741824;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, ids: GemmInvocation) {
  let M = p.O;
  let OHW = p.OH * p.OW;
  let N = p.batch * OHW;
  let K = p.C * p.KH * p.KW;
  let HW = p.H * p.W;
  let m0 = block_row0(wid);
  let n0 = block_col0(wid, ids);
  // No early exit for invocations past the output: the row values are shared through subgroup
  // operations, which need every invocation. Out-of-range rows and columns read valid addresses
  // (or nothing) and are never stored.
  var w_row: array<u32, A_LOADS>;
  for (var r = 0u; r < A_LOADS; r++) { w_row[r] = min(m0 + a_load_row(r, ids), M - 1u) * K; }
  // Each column's pixel: the input position of its window's corner, and that position's offset
  // in x (it may lie in the padding; only the taps that land inside the image are read); and the
  // column's offset in y (row 0), so the stores divide nothing (TM x TN of them).
  var ih0: array<i32, TN>;
  var iw0: array<i32, TN>;
  var x_corner: array<i32, TN>;
  var y_col: array<u32, TN>;
  for (var j = 0u; j < TN; j++) {
    let n = n0 + j * WG;
    let pixel = n % OHW;
    let image = n / OHW;
    ih0[j] = select(NO_PIXEL, i32(pixel / p.OW) * p.stride_h - p.pad_h, n < N);
    iw0[j] = i32(pixel % p.OW) * p.stride_w - p.pad_w;
    x_corner[j] = i32(image * p.C * HW) + ih0[j] * i32(p.W) + iw0[j];
    y_col[j] = image * M * OHW + pixel;
  }

  var acc: array<f32, BLOCK>;
  var a: array<Operand, A_LOADS>;
  var b: array<Operand, TN>;
  let radices = vec3<u32>(0u, p.KH, p.KW);
  var tap = vec3<u32>(0u, 0u, 0u);   // (c, kh, kw) of k
  for (var k = 0u; k < K; k++) {
    for (var r = 0u; r < A_LOADS; r++) { a[r] = Operand(w[w_row[r] + k]); }
    let dh = i32(tap.y) * p.dil_h;
    let dw = i32(tap.z) * p.dil_w;
    let tap_offset = i32(tap.x * HW) + dh * i32(p.W) + dw;
    for (var j = 0u; j < TN; j++) {
      // One unsigned compare per axis: a negative position wraps to a huge u32. Taps outside the
      // image read offset 0 and are zeroed, which keeps the loop free of divergent branches.
      let inside = (u32(ih0[j] + dh) < p.H) & (u32(iw0[j] + dw) < p.W);
      b[j] = Operand(select(0.0, x[select(0u, u32(x_corner[j] + tap_offset), inside)], inside));
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
      let n = n0 + j * WG;
      if (n < N) { y[y_col[j] + m * OHW] = acc[i * TN + j] + b_m; }
    }
  }
}
