// conv2dForwardRow3: conv2d forward (same semantics and Params as conv2d_forward.wgsl) for the
// common case KW = 3, stride_w = 1, dil_w = 1, pad_w = PAD_W <= 4 and W % 4 == 0 (every 3x3
// stride-1 layer of the model; stride, padding and dilation along H are free). Also runs
// conv2dBackwardInput of such layers (engine/ops/conv2d.ts): at stride 1 the input gradient is
// this correlation of dy with the flipped, transposed weight.
//   x4: N,C,H,W/4 (x as vec4 along W)   w4: C,KH,O (vec4: taps kw = 0, 1, 2 and a 0)
//   bias: O   y: N,O,OH,OW
// The weight comes packed by conv2d_row3_weight.wgsl, so one (o, c, kh) row of taps is one vec4.
// GEMM view as in conv2d_forward.wgsl (m = o, k = (c*KH + kh)*3 + kw), but each invocation owns
// TN = 8 consecutive output pixels of one output row (a "segment") instead of 8 pixels strided
// across the map, so that its three taps along a row read one span of TN + 2 input values:
//   segment s = (b*OH + oh)*SEGS + seg, SEGS = ceil(OW / TN), pixels ow = seg*TN + j, j < TN
//   span[t] = x[b, c, oh*sh - ph + kh*dh, seg*TN - PAD_W + t], t < TN + 2   (0 outside the image)
//   tap kw of pixel j reads span[j + kw]
// The span comes from the 4 aligned vec4s around the segment (conv2d_row3_span.wgsl): lavapipe (and CPU adapters in
// general) fetch a storage value lane by lane at a cost per access, not per byte, so per
// (c, kh) this is 4 + 2 accesses (input, weight with subgroups) for 3 * TM * TN multiply-adds,
// against 3 * (TN + TM / 8) = 30 in the general kernel. The three taps are summed in temporaries
// before they touch the accumulators: on lavapipe every accumulator update inside the loop is a
// masked blend plus a round trip to the stack (128 accumulators do not fit in registers).
// Measured on lavapipe, batch 8, 3x3 layers, interleaved in one process, median GFLOP/s general
// -> row3 with scalar loads -> row3 with vec4 loads: see engine/ops/conv2d.ts.
// Dispatch: [ceil(S / WG), ceil(O / TM)] workgroups, S = N*OH*SEGS.
// Included by conv2d_forward_row3_with_subgroups.wgsl / _without_subgroups.wgsl.

struct Params {
  batch: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride_h: i32, stride_w: i32, pad_h: i32,
  pad_w: i32, dil_h: i32, dil_w: i32, has_bias: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w4: array<vec4<f32>>;

override PAD_W: u32 = 1u;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// A row far above the image: an invocation past the last segment reads nothing.
const NO_PIXEL: i32 = -1073741824;
#include "conv2d_row3_span.wgsl"

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
  // The output channel of each loaded row (rows past M read the last one and are never stored).
  var w_row: array<u32, A_LOADS>;
  for (var r = 0u; r < A_LOADS; r++) { w_row[r] = min(m0 + a_load_row(r, ids), M - 1u); }

  var acc: array<f32, BLOCK>;
  var wk0: array<f32, A_LOADS>;
  var wk1: array<f32, A_LOADS>;
  var wk2: array<f32, A_LOADS>;
  var span: array<f32, SPAN>;
  let W4 = p.W / 4u;
  let seg4 = ow0 / 4u;                 // the vec4 of the segment's first column
  var plane4 = image * p.C * p.H * W4;
  var k4 = 0u;                         // (c*KH + kh)*O: the reduction step's first vec4 in w4
  for (var c = 0u; c < p.C; c++) {
    for (var kh = 0u; kh < p.KH; kh++) {
      let ih = ih0 + i32(kh) * p.dil_h;
      // A row outside the image (a negative one wraps to a huge u32) reads nothing.
      span = load_span(plane4 + u32(ih) * W4, seg4, W4, u32(ih) < p.H);
      for (var r = 0u; r < A_LOADS; r++) {
        let taps = w4[k4 + w_row[r]];
        wk0[r] = taps.x;
        wk1[r] = taps.y;
        wk2[r] = taps.z;
      }
      block_update_row3(&acc, &wk0, &wk1, &wk2, &span);
      k4 += M;
    }
    plane4 += p.H * W4;
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
