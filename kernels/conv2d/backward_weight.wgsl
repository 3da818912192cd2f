// conv2dBackwardWeight: dw = dL/dw of y = conv2d(x, w).
//   x: N,C,H,W   dy: N,O,OH,OW   dw: O,C,KH,KW
//   dw[o,c,kh,kw] = sum_{b,oh,ow} dy[b,o,oh,ow] * x[b,c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
// As an implicit GEMM (register blocks and invocation layout: gemm/tile.wgsl):
//   m = o                        (M = O)
//   n = (c*KH + kh)*KW + kw      (N = C*KH*KW, the weight's own row layout)
//   k = (b*OH + oh)*OW + ow      (K = N*OH*OW: a long reduction over the batch and the map)
//   A[m][k] = dy[b,o,oh,ow];  B[k][n] = the input value tap n reads for output pixel k (0 in the padding)
// Split-K: workgroup z reduces k in [z*k_split, min(K, (z+1)*k_split)) and writes its partial
// sums to out[z, M, N]. With one split, `out` is dw itself; otherwise conv2dBackwardWeightSum
// (gemm/split_k_sum.wgsl) adds the slices in a fixed order, so the result is deterministic (no atomics).
// Compiled after either row-sharing snippet (variants: CONV2D_VARIANTS in engine/ops/conv2d.ts).
// Dispatch: [ceil(N / (WG*TN)), ceil(M / TM), splits] workgroups.

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, ids: GemmInvocation) {
  let M = p.O;
  let KHW = p.KH * p.KW;
  let N = p.C * KHW;
  let OHW = p.OH * p.OW;
  let K = p.batch * OHW;
  let HW = p.H * p.W;
  let m0 = block_row0(wid);
  let n0 = block_col0(wid, ids);
  let k_begin = wid.z * p.k_split;
  let k_end = min(K, k_begin + p.k_split);

  // No early exit for invocations past the output: the row values are shared through subgroup
  // operations, which need every invocation. Out-of-range rows and columns read valid addresses
  // (or nothing) and are never stored.
  // dy[b,o,oh,ow] = dy[b*O*OHW + o*OHW + pixel]: the row part o*OHW; rows past M read the last channel.
  var dy_row: array<u32, A_LOADS>;
  for (var r = 0u; r < A_LOADS; r++) { dy_row[r] = min(m0 + a_load_row(r, ids), M - 1u) * OHW; }
  // Each column's weight position (c, kh, kw): the tap's shift from (oh*sh, ow*sw), and its offset
  // in x relative to an output pixel's image and position.
  var dh: array<i32, TN>;
  var dw: array<i32, TN>;
  var x_tap: array<i32, TN>;
  for (var j = 0u; j < TN; j++) {
    let n = n0 + j * WG;
    let t = radix_split(min(n, N - 1u), vec3<u32>(0u, p.KH, p.KW));
    dh[j] = select(NO_TAP, i32(t.y) * p.dil_h - p.pad_h, n < N);
    dw[j] = i32(t.z) * p.dil_w - p.pad_w;
    x_tap[j] = i32(t.x * HW) + dh[j] * i32(p.W) + dw[j];
  }

  var acc: array<f32, BLOCK>;
  var a: array<Operand, A_LOADS>;
  var b: array<Operand, TN>;
  let radices = vec3<u32>(0u, p.OH, p.OW);
  var pix = radix_split(k_begin, radices);   // (b, oh, ow) of k
  for (var k = k_begin; k < k_end; k++) {
    let dy_pix = pix.x * M * OHW + pix.y * p.OW + pix.z;
    for (var r = 0u; r < A_LOADS; r++) { a[r] = Operand(dy[dy_row[r] + dy_pix]); }
    let oh = i32(pix.y) * p.stride_h;
    let ow = i32(pix.z) * p.stride_w;
    let x_pix = i32(pix.x * p.C * HW) + oh * i32(p.W) + ow;
    for (var j = 0u; j < TN; j++) {
      // One unsigned compare per axis: a negative position wraps to a huge u32. Taps outside the
      // image read offset 0 and are zeroed, which keeps the loop free of divergent branches.
      let inside = (u32(oh + dh[j]) < p.H) & (u32(ow + dw[j]) < p.W);
      b[j] = Operand(select(0.0, x[select(0u, u32(x_pix + x_tap[j]), inside)], inside));
    }
    block_update(&acc, &a, &b);
    pix = radix_next(pix, radices);
  }

  let slice = wid.z * M * N;
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j * WG;
      if (n < N) { out[slice + m * N + n] = acc[i * TN + j]; }
    }
  }
}
