// The input values one row3 segment reads along one input row (conv2d_forward_row3.wgsl,
// conv2d_backward_weight_row3.wgsl): 8 consecutive output pixels from column ow0 = 8*s and their
// three taps need columns ow0 - PAD_W .. ow0 - PAD_W + 9. They are cut from the 4 aligned vec4s
// covering columns ow0 - 4 .. ow0 + 11 (PAD_W <= 4); with W % 4 == 0 each vec4 lies wholly inside
// or outside the row. The including kernel declares `x4: array<vec4<f32>>` (x as vec4 along W)
// and `override PAD_W: u32` (an override, so the cut is fixed at pipeline creation: a dynamic
// index would push the 16 values to memory).

// Input values per segment row: 8 pixels + 2 more for the taps.
const SPAN: u32 = 10u;

// row4: the vec4 index of the row's first column; seg4 = ow0 / 4; W4 = W / 4. Columns outside
// the image (or the whole row, when !row_inside) read index 0 and are zeroed: branch-free.
fn load_span(row4: u32, seg4: u32, W4: u32, row_inside: bool) -> array<f32, SPAN> {
  var cols: array<f32, 16>;
  for (var k = 0u; k < 4u; k++) {
    let col4 = seg4 + k - 1u;          // wraps to a huge u32 left of column 0
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
