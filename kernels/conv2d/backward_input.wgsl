// conv2dBackwardInput: dx = dL/dx of y = conv2d(x, w), a transposed convolution of dy.
//   dy: N,O,OH,OW   w: O,C,KH,KW   dx: N,C,H,W
//   dx[b,c,ih,iw] = sum_{o,kh,kw} w[o,c,kh,kw] * dy[b,o,oh,ow]
//     over the taps that land: ih + ph - kh*dh = oh*sh exactly, 0 <= oh < OH (same for w);
//   positions no window reads get 0.
// One dispatch per stride phase (engine/ops/conv2d.ts): the input rows with (ih + ph) % sh == rh
// are reached only by the taps kh with kh*dh % sh == rh, kh = kh0 + u*kh_step, and for those
// oh = oh0 + qh - u*oh_step, where ih = ih_first + qh*sh (columns likewise). So within a phase the
// pass is a plain stride-1 correlation over (u, v) with no tap that fails to land: no integer
// division, no wasted multiply-adds. Stride 1 is a single phase with kh0 = 0, kh_step = 1.
// As an implicit GEMM per phase (register blocks and invocation layout: gemm/tile.wgsl):
//   m = c                          (M = C)
//   n = (b*QH + qh)*QW + qw        (N = N*QH*QW, the phase's input pixels)
//   k = (o*NKH + u)*NKW + v        (K = O*NKH*NKW, the phase's taps; 0 if none: dx stays 0)
//   A[m][k] = w[o,c,kh,kw] (the weight read transposed);  B[k][n] = dy[b,o,oh,ow] or 0 outside dy
// Compiled after either row-sharing snippet (variants: CONV2D_VARIANTS in engine/ops/conv2d.ts).
// Dispatch: [ceil(N / (WG*TN)), ceil(M / TM)] workgroups per phase.

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

// An output row far below dy: columns past N read nothing.
const NO_PIXEL: i32 = -1073741824;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, ids: GemmInvocation) {
  let M = p.C;
  let Q = p.QH * p.QW;
  let N = p.batch * Q;
  let KHW = p.KH * p.KW;
  let K = p.O * p.NKH * p.NKW;
  let OHW = p.OH * p.OW;
  let m0 = block_row0(wid);
  let n0 = block_col0(wid, ids);

  // No early exit for invocations past the output: the row values are shared through subgroup
  // operations, which need every invocation. Out-of-range rows and columns read valid addresses
  // (or nothing) and are never stored.
  // w[o,c,kh,kw] = w[o*C*KHW + c*KHW + kh*KW + kw]: the row part c*KHW; rows past M read the last channel.
  var w_row: array<u32, A_LOADS>;
  for (var r = 0u; r < A_LOADS; r++) { w_row[r] = min(m0 + a_load_row(r, ids), M - 1u) * KHW; }
  // Each column's first landing position in dy (for u = v = 0) and its offset in dy; and the
  // column's input position's offset in dx (row 0), so the stores divide nothing.
  let HW = p.H * p.W;
  var oh0: array<i32, TN>;
  var ow0: array<i32, TN>;
  var dy_corner: array<i32, TN>;
  var dx_col: array<u32, TN>;
  for (var j = 0u; j < TN; j++) {
    let n = n0 + j * WG;
    let q = n % Q;
    let image = n / Q;
    let qh = q / p.QW;
    let qw = q % p.QW;
    oh0[j] = select(NO_PIXEL, p.oh0 + i32(qh), n < N);
    ow0[j] = p.ow0 + i32(qw);
    dy_corner[j] = i32(image * p.O * OHW) + oh0[j] * i32(p.OW) + ow0[j];
    dx_col[j] = image * M * HW + (p.ih_first + qh * p.stride_h) * p.W + p.iw_first + qw * p.stride_w;
  }

  var acc: array<f32, BLOCK>;
  var a: array<Operand, A_LOADS>;
  var b: array<Operand, TN>;
  let radices = vec3<u32>(0u, p.NKH, p.NKW);
  var tap = vec3<u32>(0u, 0u, 0u);   // (o, u, v) of k
  let w_o_stride = p.C * KHW;
  for (var k = 0u; k < K; k++) {
    let w_tap = tap.x * w_o_stride + (p.kh0 + tap.y * p.kh_step) * p.KW + p.kw0 + tap.z * p.kw_step;
    for (var r = 0u; r < A_LOADS; r++) { a[r] = Operand(w[w_row[r] + w_tap]); }
    let dh = i32(tap.y) * p.oh_step;
    let dw = i32(tap.z) * p.ow_step;
    let tap_offset = i32(tap.x * OHW) - dh * i32(p.OW) - dw;
    for (var j = 0u; j < TN; j++) {
      // One unsigned compare per axis: a negative position wraps to a huge u32. Taps outside dy
      // read offset 0 and are zeroed, which keeps the loop free of divergent branches.
      let inside = (u32(oh0[j] - dh) < p.OH) & (u32(ow0[j] - dw) < p.OW);
      b[j] = Operand(select(0.0, dy[select(0u, u32(dy_corner[j] + tap_offset), inside)], inside));
    }
    block_update(&acc, &a, &b);
    tap = radix_next(tap, radices);
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j * WG;
      if (n < N) { dx[dx_col[j] + m * HW] = acc[i * TN + j]; }
    }
  }
}
