// The group-norm kernels' epilogue for plain groupNorm: y is the normalized, scaled and shifted
// value; the backward's upstream gradient is dy itself. `Elem` is the body's access type (f32 in
// norm/group_norm.wgsl, vec4<f32> in norm/group_norm_vec4.wgsl); `i` indexes arrays of Elem.
fn activate(v: Elem, i: u32) -> Elem { return v; }
fn upstream_grad(dy_i: Elem, i: u32) -> Elem { return dy_i; }
