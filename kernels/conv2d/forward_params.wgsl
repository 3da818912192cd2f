// The uniforms of the conv2d forward kernels (conv2d/forward.wgsl, conv2d/forward_row.wgsl): the
// geometry of y = conv2d(x, w) + bias (engine/ops/conv2d.ts ConvGeometry), and whether a bias is bound.
struct Params {
  batch: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride_h: i32, stride_w: i32, pad_h: i32,
  pad_w: i32, dil_h: i32, dil_w: i32, has_bias: u32,
};
