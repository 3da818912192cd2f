// conv2dForwardRow3 / conv2dForwardRow3s2 / conv2dForwardRow7s2 / conv2dBackwardInputRow3: conv2d
// forward (same semantics and Params as conv2d/forward.wgsl) for rows of ROW_TAPS = KW taps at
// stride ROW_STRIDE = stride_w along W, undilated, pad_w = PAD_W <= 4, W % 4 == 0; stride,
// padding and dilation along H are free.
//   row3   (ROW_TAPS 3, ROW_STRIDE 1): every 3x3 stride-1 layer of the model; also the input
//          gradient of such layers (conv2dBackwardInputRow3): at stride 1 it is this correlation
//          of dy with the flipped, transposed weight;
//   row3s2 (ROW_TAPS 3, ROW_STRIDE 2): the downsampling 3x3 layers;
//   row7s2 (ROW_TAPS 7, ROW_STRIDE 2): the 7x7 stride-2 stem.
// ROW_TAPS and ROW_STRIDE are injected constants, one set per variant (CONV2D_VARIANTS in
// engine/ops/conv2d.ts). Subgroups are required (without them the general kernel is faster).
//   x4: N,C,H,W/4 (x as vec4 along W)   w4: C,KH,O,V4 (the row of KW taps of (o, c, kh) as
//   V4 = ceil(KW / 4) vec4s, zero-padded; packed by conv2d/row_weight.wgsl)   bias: O   y: N,O,OH,OW
// GEMM view as in conv2d/forward.wgsl (m = o, k = (c*KH + kh)*KW + kw), but each invocation owns
// TN = 8 consecutive output pixels of one output row (a "segment") instead of 8 pixels strided
// across the map, so that the taps of its pixels along a row read one span of input values:
//   segment s = (b*OH + oh)*SEGS + seg, SEGS = ceil(OW / TN), pixels ow = seg*TN + j, j < TN
//   span[t] = x[b, c, oh*sh - ph + kh*dh, seg*TN*ROW_STRIDE - PAD_W + t], t < SPAN (0 outside the image)
//   tap kw of pixel j reads span[j*ROW_STRIDE + kw]
// The span comes from aligned vec4s (conv2d/row_span.wgsl): lavapipe (and CPU adapters in
// general) fetch a storage value lane by lane at a cost per access, not per byte. Per (c, kh),
// row3: 4 input + 2 weight accesses (with subgroups) for 3 * TM * TN multiply-adds, against
// 3 * (TN + TM / 8) = 30 in the general kernel; row7s2: 7 + 4 for 7 * TM * TN, against 70.
// The taps of one row are summed in temporaries before they touch the accumulators: on lavapipe
// every accumulator update inside the loop is a masked blend plus a round trip to the stack
// (128 accumulators do not fit in registers).
// Dispatch: [ceil(S / WG), ceil(O / TM)] workgroups, S = N*OH*SEGS.

#include "conv2d/forward_params.wgsl"
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override PAD_W: u32 = 1u;
#include "conv2d/row_span.wgsl"

// A row far above the image: an invocation past the last segment reads nothing.
const NO_PIXEL: i32 = -1073741824;
// vec4s per packed row of taps.
const V4: u32 = (ROW_TAPS + 3u) / 4u;
// The loaded weight values of one reduction step: [tap kw][load r] (row a_load_row(r) of the block).
alias RowTaps = array<array<f32, A_LOADS>, ROW_TAPS>;

// acc[i][j] += sum over kw of A[row i][kw] * span[j*ROW_STRIDE + kw]. Rows in four loops of 4:
// NIR unrolls a loop only while its body times its trip count stays small, and a loop left
// rolled would index the accumulators dynamically (they would leave registers for memory).
fn block_update_row(acc: ptr<function, array<f32, BLOCK>>, wk: ptr<function, RowTaps>, span: ptr<function, array<f32, SPAN>>) {
  for (var i = 0u; i < 4u; i++) { row_update(acc, i, wk, span); }
  for (var i = 4u; i < 8u; i++) { row_update(acc, i, wk, span); }
  for (var i = 8u; i < 12u; i++) { row_update(acc, i, wk, span); }
  for (var i = 12u; i < 16u; i++) { row_update(acc, i, wk, span); }
}

fn row_update(acc: ptr<function, array<f32, BLOCK>>, i: u32, wk: ptr<function, RowTaps>, span: ptr<function, array<f32, SPAN>>) {
  var a: array<f32, ROW_TAPS>;
  for (var kw = 0u; kw < ROW_TAPS; kw++) {
    var loaded = (*wk)[kw];
    a[kw] = a_value(&loaded, i);
  }
  for (var j = 0u; j < TN; j++) {
    var s = a[0] * (*span)[j * ROW_STRIDE];
    for (var kw = 1u; kw < ROW_TAPS; kw++) { s += a[kw] * (*span)[j * ROW_STRIDE + kw]; }
    (*acc)[i * TN + j] += s;
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
  var wk: RowTaps;
  var span: array<f32, SPAN>;
  let W4 = p.W / 4u;
  let first4 = ow0 * ROW_STRIDE / 4u;  // the vec4 of the span's column ow0*ROW_STRIDE
  var plane4 = image * p.C * p.H * W4;
  var k4 = 0u;                         // (c*KH + kh)*O: the reduction step's first row in w4
  for (var c = 0u; c < p.C; c++) {
    for (var kh = 0u; kh < p.KH; kh++) {
      let ih = ih0 + i32(kh) * p.dil_h;
      // A row outside the image (a negative one wraps to a huge u32) reads nothing.
      span = load_span(plane4 + u32(ih) * W4, first4, W4, u32(ih) < p.H);
      for (var r = 0u; r < A_LOADS; r++) {
        for (var v = 0u; v < V4; v++) {
          let taps = w4[(k4 + w_row[r]) * V4 + v];
          for (var q = 0u; q < 4u; q++) {
            if (4u * v + q < ROW_TAPS) { wk[4u * v + q][r] = taps[q]; }
          }
        }
      }
      block_update_row(&acc, &wk, &span);
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
