// The input values one row-kernel segment reads along one input row (conv2d/forward_row.wgsl,
// conv2d/backward_weight_row.wgsl): 8 consecutive output pixels from column ow0 = 8*s, with
// ROW_TAPS taps each at stride ROW_STRIDE, need SPAN columns from ow0*ROW_STRIDE - PAD_W. They
// are cut from the SPAN_VEC4 aligned vec4s that start 4 columns left of ow0*ROW_STRIDE (a
// multiple of 8, and PAD_W <= 4); with W % 4 == 0 each vec4 lies wholly inside or outside the
// row. The including kernel declares `x4: array<vec4<f32>>` (x as vec4 along W), the constants
// ROW_TAPS and ROW_STRIDE, and `override PAD_W: u32` (an override, so the cut is fixed at
// pipeline creation: a dynamic index would push the loaded values to memory).

const SPAN: u32 = (TN - 1u) * ROW_STRIDE + ROW_TAPS;
const SPAN_VEC4: u32 = (SPAN + 7u) / 4u;

// row4: the vec4 index of the row's first column; first4 = ow0*ROW_STRIDE / 4; W4 = W / 4.
// Columns outside the image (or the whole row, when !row_inside) read index 0 and are zeroed:
// branch-free.
fn load_span(row4: u32, first4: u32, W4: u32, row_inside: bool) -> array<f32, SPAN> {
  var cols: array<f32, SPAN_VEC4 * 4u>;
  for (var k = 0u; k < SPAN_VEC4; k++) {
    let col4 = first4 + k - 1u;        // wraps to a huge u32 left of column 0
    let inside = row_inside & (col4 < W4);
    let v = select(vec4<f32>(), x4[select(0u, row4 + col4, inside)], inside);
    cols[4u * k] = v.x;
    cols[4u * k + 1u] = v.y;
    cols[4u * k + 2u] = v.z;
    cols[4u * k + 3u] = v.w;
  }
  var span: array<f32, SPAN>;
  for (var t = 0u; t < SPAN; t++) { span[t] = cols[4u - PAD_W + t]; }
  return span;
}
