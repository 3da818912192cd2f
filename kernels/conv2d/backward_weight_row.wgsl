// conv2dBackwardWeightRow3 / Row3s2 / Row7s2: conv2d's weight gradient (as
// conv2d/backward_weight.wgsl) for the row kernels' geometries (conv2d/forward_row.wgsl):
// ROW_TAPS = KW taps at stride ROW_STRIDE = stride_w along W, undilated, pad_w = PAD_W <= 4,
// W % 4 == 0 and OW % 4 == 0; H is free. ROW_TAPS, ROW_STRIDE and PAIRS are injected
// constants, one set per variant (variants: CONV2D_VARIANTS in engine/ops/conv2d.ts); subgroups required.
//   x4: N,C,H,W/4 (x as vec4 along W)   dy4: N,O,OH,OW/4   dw: O,C,KH,KW
//   dw[o,c,kh,kw] = sum_{b,oh,ow} dy[b,o,oh,ow] * x[b,c, oh*sh - ph + kh*dh, ow*ROW_STRIDE - PAD_W + kw]
// GEMM view: m = o (M = O), n = (c*KH + kh)*KW + kw (N = C*KH*KW), k = the output pixels. Each
// invocation owns the TM = 16 rows of its workgroup (shared through subgroups, as in gemm/tile.wgsl)
// and PAIRS consecutive input rows q = c*KH + kh with their KW taps each: PAIRS*KW columns. The
// reduction walks chunks of TP = 8 consecutive output pixels of one output row,
//   chunk = (b*OH + oh)*SEGS + seg, SEGS = ceil(OW / TP), pixels ow = seg*TP + t (t < TP; past OW dy
//   counts as 0),
// so that the taps of one input row read one span of x (conv2d/row_span.wgsl):
//   span[q][u] = x[b, c, oh*sh - ph + kh*dh, seg*TP*ROW_STRIDE - PAD_W + u]; tap kw of pixel t reads u = t*ROW_STRIDE + kw.
// Loads are aligned vec4s (lavapipe pays per access, not per byte; see conv2d/forward_row.wgsl):
// per chunk SPAN_VEC4 per input row and 2 per dy row; row3 (PAIRS 3): 3 * 4 + 2 * 2 = 16
// accesses (with subgroups) for 16 * 9 * TP = 1152 multiply-adds (the general kernel: 10 per
// 128). Each accumulator takes the sum over the chunk's 8 pixels at once: on lavapipe every
// accumulator update inside a loop is a masked blend plus a round trip to the stack.
// Split-K over chunks: workgroup z reduces chunks [z*k_split, min(chunks, (z+1)*k_split)) into
// out[z, M, N]; with several splits conv2dBackwardWeightSum adds the slices in a fixed order.
// Dispatch: [ceil(C*KH / (PAIRS*WG)), ceil(M / TM), splits] workgroups.

struct Params {
  batch: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  stride_h: i32, pad_h: i32, dil_h: i32,
  k_split: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4<f32>>;

override PAD_W: u32 = 1u;

#include "conv2d/row_span.wgsl"
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const TP: u32 = 8u;                    // output pixels per reduction chunk
const COLS: u32 = PAIRS * ROW_TAPS;    // columns per invocation
const BLOCK_ROW: u32 = TM * COLS;      // accumulators per invocation
const SPANS: u32 = PAIRS * SPAN;
// The dy values one invocation loads per chunk: [pixel t][load r] (row a_load_row(r) of the block).
alias DyChunk = array<array<f32, A_LOADS>, TP>;
// An input row far above the image: pairs past C*KH read nothing.
const NO_ROW: i32 = -1073741824;

// acc[i][col] += sum over t < TP of A[row i][pixel t] * span[pair][t*ROW_STRIDE + kw], col = pair*KW + kw.
// dyt[t] holds the loaded dy values of pixel t. Rows in four loops of 4: NIR unrolls a loop only
// while its body times its trip count stays small; a loop left rolled would index the
// accumulators dynamically and push them to memory.
fn block_update_weight_row(acc: ptr<function, array<f32, BLOCK_ROW>>, dyt: ptr<function, DyChunk>,
                            span: ptr<function, array<f32, SPANS>>) {
  for (var i = 0u; i < 4u; i++) { row_update_weight_row(acc, i, dyt, span); }
  for (var i = 4u; i < 8u; i++) { row_update_weight_row(acc, i, dyt, span); }
  for (var i = 8u; i < 12u; i++) { row_update_weight_row(acc, i, dyt, span); }
  for (var i = 12u; i < 16u; i++) { row_update_weight_row(acc, i, dyt, span); }
}

fn row_update_weight_row(acc: ptr<function, array<f32, BLOCK_ROW>>, i: u32, dyt: ptr<function, DyChunk>,
                          span: ptr<function, array<f32, SPANS>>) {
  var a: array<f32, TP>;
  for (var t = 0u; t < TP; t++) {
    var at = (*dyt)[t];
    a[t] = a_value(&at, i);
  }
  for (var col = 0u; col < COLS; col++) {
    let u0 = (col / ROW_TAPS) * SPAN + col % ROW_TAPS;
    var s = a[0] * (*span)[u0];
    for (var t = 1u; t < TP; t++) { s += a[t] * (*span)[u0 + t * ROW_STRIDE]; }
    (*acc)[i * COLS + col] += s;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, ids: GemmInvocation) {
  let M = p.O;
  let QN = p.C * p.KH;                 // input rows (c, kh)
  let N = QN * ROW_TAPS;
  let OHW = p.OH * p.OW;
  let segs = (p.OW + TP - 1u) / TP;
  let chunks = p.batch * p.OH * segs;
  let m0 = block_row0(wid);
  let q0 = (wid.x * WG + ids.local) * PAIRS;
  let chunk_begin = wid.z * p.k_split;
  let chunk_end = min(chunks, chunk_begin + p.k_split);

  // No early exit: the dy values are shared through subgroup operations, which need every
  // invocation. Rows past M read the last channel and pairs past QN read nothing; neither is stored.
  // dy[b,o,oh,ow] as vec4: (b*M*OHW + o*OHW + oh*OW + ow) / 4, every term a multiple of 4.
  var dy_row4: array<u32, A_LOADS>;
  for (var r = 0u; r < A_LOADS; r++) { dy_row4[r] = min(m0 + a_load_row(r, ids), M - 1u) * (OHW / 4u); }
  // Each pair's input row relative to an output row (oh*sh), and its channel plane in x4.
  let W4 = p.W / 4u;
  let HW4 = p.H * W4;
  var row_shift: array<i32, PAIRS>;
  var plane4: array<u32, PAIRS>;
  for (var r = 0u; r < PAIRS; r++) {
    let q = q0 + r;
    row_shift[r] = select(NO_ROW, i32(q % p.KH) * p.dil_h - p.pad_h, q < QN);
    plane4[r] = min(q / p.KH, p.C - 1u) * HW4;
  }

  var acc: array<f32, BLOCK_ROW>;
  var dyt: DyChunk;
  var span: array<f32, SPANS>;
  var seg = chunk_begin % segs;
  var out_row = chunk_begin / segs;    // b*OH + oh
  for (var chunk = chunk_begin; chunk < chunk_end; chunk++) {
    let oh = out_row % p.OH;
    let image = out_row / p.OH;
    let seg4 = seg * (TP / 4u);
    // Pixels ow0 .. ow0 + 3 always exist; ow0 + 4 .. ow0 + 7 only if OW reaches them.
    let high_inside = seg4 + 1u < p.OW / 4u;
    let dy_pix4 = image * M * (OHW / 4u) + oh * (p.OW / 4u) + seg4;
    for (var r = 0u; r < A_LOADS; r++) {
      let low = dy4[dy_row4[r] + dy_pix4];
      let high = select(vec4<f32>(), dy4[select(0u, dy_row4[r] + dy_pix4 + 1u, high_inside)], high_inside);
      dyt[0][r] = low.x; dyt[1][r] = low.y; dyt[2][r] = low.z; dyt[3][r] = low.w;
      dyt[4][r] = high.x; dyt[5][r] = high.y; dyt[6][r] = high.z; dyt[7][r] = high.w;
    }
    let x_image4 = image * p.C * HW4;
    for (var r = 0u; r < PAIRS; r++) {
      let ih = i32(oh) * p.stride_h + row_shift[r];
      // A row outside the image (a negative one wraps to a huge u32) reads nothing.
      let row_span = load_span(x_image4 + plane4[r] + u32(ih) * W4, seg4 * ROW_STRIDE, W4, u32(ih) < p.H);
      for (var u = 0u; u < SPAN; u++) { span[r * SPAN + u] = row_span[u]; }
    }
    block_update_weight_row(&acc, &dyt, &span);
    seg += 1u;
    if (seg == segs) { seg = 0u; out_row += 1u; }
  }

  let slice = wid.z * M * N;
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    for (var col = 0u; col < COLS; col++) {
      let n = q0 * ROW_TAPS + col;
      if (n < N) { out[slice + m * N + n] = acc[i * COLS + col]; }
    }
  }
}
