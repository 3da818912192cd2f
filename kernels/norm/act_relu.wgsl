// The group-norm kernels' epilogue for groupNormRelu: y = max(v, 0) (v the normalized, scaled and
// shifted value), written in the same pass instead of a separate ReLU dispatch.
// Backward (channelSums): the gradient reaching the normalization is dz = dy where y > 0, else 0
// (0 at exactly 0, as PyTorch); it is written to dz once, for backwardInput to read as its dy.
// `Elem` is the body's access type (f32 or vec4<f32>); `i` indexes arrays of Elem.
// Layouts: y_act (the forward's output, kept for backward), dz: as x.
@group(0) @binding(13) var<storage, read> y_act: array<Elem>;
@group(0) @binding(14) var<storage, read_write> dz: array<Elem>;

fn activate(v: Elem, i: u32) -> Elem { return max(v, Elem(0.0)); }
fn upstream_grad(dy_i: Elem, i: u32) -> Elem {
  let g = select(Elem(0.0), dy_i, y_act[i] > Elem(0.0));
  dz[i] = g;
  return g;
}
