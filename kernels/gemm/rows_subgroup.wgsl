// Row sharing through subgroups for gemm/tile.wgsl (used when the adapter has subgroups and every
// subgroup has at least 8 invocations; see engine/ops/gemm_tiles.ts, whose variants declare the
// 'subgroups' feature, so the source starts with `enable subgroups;`). All invocations of a
// workgroup share the TM block rows, so within any subgroup lane s can fetch rows s % 8 and
// s % 8 + 8, and every lane reads row i from lane i % 8: 2 loads per step instead of 16.
#include "gemm/tile.wgsl"

struct GemmInvocation {
  @builtin(local_invocation_index) local: u32,
  @builtin(subgroup_invocation_id) lane: u32,
};

const A_LOADS: u32 = TM / 8u;

// The block row that load r of this invocation fetches.
fn a_load_row(r: u32, ids: GemmInvocation) -> u32 {
  return r * 8u + ids.lane % 8u;
}

// A[row i][k] of the block, from the lane that loaded it.
// Shuffled as f32 (exact for an f16 Operand): subgroup operations on f16 would need more features.
fn a_value(a_loaded: ptr<function, array<Operand, A_LOADS>>, i: u32) -> f32 {
  return subgroupShuffle(f32((*a_loaded)[i / 8u]), i % 8u);
}
