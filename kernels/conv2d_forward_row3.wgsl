// conv2dForwardRow3: conv2d forward (same semantics and Params as conv2d_forward.wgsl) for the
// common case KW = 3, stride_w = 1, dil_w = 1 (every 3x3 stride-1 layer; stride, padding and
// dilation along H are free). Also runs conv2dBackwardInput of such layers (engine/ops/conv2d.ts):
// at stride 1 the input gradient is this correlation of dy with the flipped, transposed weight.
//   x: N,C,H,W   w: O,C,KH,3   bias: O   y: N,O,OH,OW
// GEMM view as in conv2d_forward.wgsl (m = o, k = (c*KH + kh)*3 + kw), but each invocation owns
// TN = 8 consecutive output pixels of one output row (a "segment") instead of 8 pixels strided
// across the map, so that its three taps along a row read one patch of TN + 2 input values:
//   segment s = (b*OH + oh)*SEGS + seg, SEGS = ceil(OW / TN), pixels ow = seg*TN + j, j < TN
//   patch[t] = x[b, c, oh*sh - ph + kh*dh, seg*TN - pw + t], t < TN + 2   (0 outside the image)
//   tap kw of pixel j reads patch[j + kw]
// Per (c, kh): TN + 2 = 10 input loads and 3 * TM weight values (3 * TM / 8 loads with
// subgroups) for 3 * TM * TN multiply-adds, against 3 * (TN + TM / 8) loads in the general
// kernel. The three taps are summed in temporaries before they touch the accumulators: on
// lavapipe every accumulator update inside the loop is a masked blend plus a round trip to the
// stack (128 accumulators do not fit in registers), so one update per three multiply-adds
// instead of one per multiply-add. Measured on lavapipe, batch 8, 64ch 32x32: 14.7-16.6 against
// 12.1-15.6 GFLOP/s for the general kernel (best of 5 alternating rounds, same process).
// Dispatch: [ceil(S / WG), ceil(O / TM)] workgroups, S = N*OH*SEGS.
// Included by conv2d_forward_row3_with_subgroups.wgsl / _without_subgroups.wgsl.

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

// A row far above the image: an invocation past the last segment reads nothing.
const NO_PIXEL: i32 = -1073741824;
// Input values one segment's three taps read along a row.
const SPAN: u32 = TN + 2u;

// acc[i][j] += sum over kw < 3 of A[row i][k + kw] * span[j + kw] (wk holds the loaded A values
// of the three taps). Rows in two loops of 8: NIR unrolls a loop only while its body times its
// trip count stays small, and a loop left rolled would index the accumulators dynamically (they
// would leave registers for memory); 16 rows in one loop exceed that budget, 8 do not.
fn block_update_row3(acc: ptr<function, array<f32, BLOCK>>, wk0: ptr<function, array<f32, A_LOADS>>,
                     wk1: ptr<function, array<f32, A_LOADS>>, wk2: ptr<function, array<f32, A_LOADS>>,
                     span: ptr<function, array<f32, SPAN>>) {
  for (var i = 0u; i < 8u; i++) { row_update_row3(acc, i, a_value(wk0, i), a_value(wk1, i), a_value(wk2, i), span); }
  for (var i = 8u; i < TM; i++) { row_update_row3(acc, i, a_value(wk0, i), a_value(wk1, i), a_value(wk2, i), span); }
}

fn row_update_row3(acc: ptr<function, array<f32, BLOCK>>, i: u32, a0: f32, a1: f32, a2: f32, span: ptr<function, array<f32, SPAN>>) {
  for (var j = 0u; j < TN; j++) {
    (*acc)[i * TN + j] += a0 * (*span)[j] + a1 * (*span)[j + 1u] + a2 * (*span)[j + 2u];
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, ids: GemmInvocation) {
  let M = p.O;
  let OHW = p.OH * p.OW;
  let K = p.C * p.KH * 3u;
  let HW = p.H * p.W;
  let segs = (p.OW + TN - 1u) / TN;
  let m0 = block_row0(wid);
  // No early exit past the last segment: the weight values are shared through subgroup
  // operations, which need every invocation. Such invocations read nothing and store nothing.
  let s = wid.x * WG + ids.local;
  let valid = s < p.batch * p.OH * segs;
  let seg = s % segs;
  let out_row = s / segs;              // b*OH + oh
  let oh = out_row % p.OH;
  let image = min(out_row / p.OH, p.batch - 1u);
  let ow0 = seg * TN;
  let ih0 = select(NO_PIXEL, i32(oh) * p.stride_h - p.pad_h, valid);
  let iw0 = i32(ow0) - p.pad_w;
  var w_row: array<u32, A_LOADS>;
  for (var r = 0u; r < A_LOADS; r++) { w_row[r] = min(m0 + a_load_row(r, ids), M - 1u) * K; }

  var acc: array<f32, BLOCK>;
  var wk0: array<f32, A_LOADS>;
  var wk1: array<f32, A_LOADS>;
  var wk2: array<f32, A_LOADS>;
  var span: array<f32, SPAN>;
  var k = 0u;                          // (c*KH + kh)*3
  var x_plane = i32(image * p.C * HW);
  for (var c = 0u; c < p.C; c++) {
    for (var kh = 0u; kh < p.KH; kh++) {
      let ih = ih0 + i32(kh) * p.dil_h;
      let row_inside = u32(ih) < p.H;
      let row_start = x_plane + ih * i32(p.W) + iw0;
      for (var t = 0u; t < SPAN; t++) {
        // Branch-free: outside the image reads offset 0 and is zeroed (a negative position wraps
        // to a huge u32, so one compare per axis).
        let inside = row_inside & (u32(iw0 + i32(t)) < p.W);
        span[t] = select(0.0, x[select(0u, u32(row_start + i32(t)), inside)], inside);
      }
      for (var r = 0u; r < A_LOADS; r++) {
        wk0[r] = w[w_row[r] + k];
        wk1[r] = w[w_row[r] + k + 1u];
        wk2[r] = w[w_row[r] + k + 2u];
      }
      block_update_row3(&acc, &wk0, &wk1, &wk2, &span);
      k += 3u;
    }
    x_plane += i32(HW);
  }

  if (!valid) { return; }
  let y_seg = image * M * OHW + oh * p.OW + ow0;
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    var b_m = 0.0;
    if (p.has_bias != 0u) { b_m = bias[m]; }
    for (var j = 0u; j < TN; j++) {
      if (ow0 + j < p.OW) { y[y_seg + m * OHW + j] = acc[i * TN + j] + b_m; }
    }
  }
}
