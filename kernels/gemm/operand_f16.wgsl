// Operand precision f16 for gemm/tile.wgsl (runtime precision 'f16', engine/precision.ts; the
// variant declares the 'shader-f16' feature, so its source starts with `enable f16;`): the values
// of A and B staged for each reduction step are rounded to f16 (relative error <= 2^-11 each),
// which halves the registers they take, and multiplied in f16 (one more rounding); the products
// are accumulated in f32. Inputs or products beyond f16's range (|v| > 65504) do not survive.
// (Rounding the operands alone is not enough: a compiler may fold f32(f16(v)) back to v, as
// lavapipe does; a product taken in f16 it must keep.)
alias Operand = f16;

// acc + a * b with the product taken in f16 (a is an f16 value carried as f32, see a_value), added in f32.
fn multiply_add(a: f32, b: Operand, acc: f32) -> f32 {
  return acc + f32(f16(a) * b);
}
