// Row loading without subgroups for gemm/tile.wgsl: every invocation fetches all TM values
// A[rows][k] itself. They are the same for the whole workgroup, so GPUs serve them from cache.
#include "gemm/tile.wgsl"

struct GemmInvocation {
  @builtin(local_invocation_index) local: u32,
};

const A_LOADS: u32 = TM;

// The block row that load r of this invocation fetches.
fn a_load_row(r: u32, ids: GemmInvocation) -> u32 {
  return r;
}

// A[row i][k] of the block.
fn a_value(a_loaded: ptr<function, array<Operand, A_LOADS>>, i: u32) -> f32 {
  return f32((*a_loaded)[i]);
}
