// Operand precision f32 for gemm/tile.wgsl (the default): the values of A and B staged for each
// reduction step are kept as loaded. Every GEMM variant includes one operand snippet (this or
// gemm/operand_f16.wgsl) ahead of its row-sharing snippet.
alias Operand = f32;

// acc + a * b, rounded once.
fn multiply_add(a: f32, b: Operand, acc: f32) -> f32 {
  return fma(a, b, acc);
}
