// The group-norm kernels' epilogue for groupNormAddRelu (the end of a residual block):
// y = max(v + residual, 0), v the normalized, scaled and shifted value; the residual add and the
// ReLU happen in the pass that writes y.
// Backward (channelSums): dz = dy where y > 0, else 0, written once: it is both the gradient of
// the residual and backwardInput's dy.
// `Elem` is the body's access type (f32 or vec4<f32>); `i` indexes arrays of Elem.
// Layouts: residual, y_act (the forward's output, kept for backward), dz: as x.
@group(0) @binding(13) var<storage, read> y_act: array<Elem>;
@group(0) @binding(14) var<storage, read_write> dz: array<Elem>;
@group(0) @binding(15) var<storage, read> residual: array<Elem>;

fn activate(v: Elem, i: u32) -> Elem { return max(v + residual[i], Elem(0.0)); }
fn upstream_grad(dy_i: Elem, i: u32) -> Elem {
  let g = select(Elem(0.0), dy_i, y_act[i] > Elem(0.0));
  dz[i] = g;
  return g;
}
