// The shared core of every GEMM-shaped kernel (conv2d forward and both backward passes, matmul):
// C = A B with A: M x K, B: K x N, computed in register blocks. Only the loads differ between
// kernels (their implicit-GEMM indexing), so each kernel writes its own loop around these helpers.
//
// Layout: a workgroup of WG invocations (1-D) owns a tile of TM x (WG * TN) outputs: TM rows
// shared by the whole workgroup, and per invocation TN columns strided by WG:
//   rows    m0 + i,            m0 = wid.y * TM,  i < TM
//   columns n0 + j * WG,       n0 = wid.x * WG * TN + local index,  j < TN
// Every invocation walks the whole reduction k; per step it needs the TM values A[rows][k] (the
// same for the whole workgroup) and its own TN values B[k][columns], then does TM x TN
// multiply-adds into registers.
//
// Why this shape (lavapipe, where the bottleneck is clear-cut): a storage-buffer load
// costs tens of instructions per invocation (lavapipe runs 8 invocations as one SIMD batch, but
// fetches each lane's value on its own, with a bounds check), against one vector instruction for
// 8 multiply-adds. So what counts is multiply-adds per load. Sharing the rows across the
// workgroup lets the A values be fetched once per subgroup and handed out with subgroup shuffles
// (gemm/rows_subgroup.wgsl: TM/8 loads instead of TM), which leaves TM/8 + TN loads per TM x TN
// multiply-adds; 16 x 8 blocks keep 128 accumulators per invocation, about what the CPU's vector
// registers and stack absorb (at 32 x 8 the loops are no longer unrolled, so the accumulators
// live in memory). The columns are strided by WG so that neighbouring invocations
// read neighbouring addresses (coalesced loads on GPUs). The kernels' B loads are branch-free
// (a tap outside the input reads offset 0 and is zeroed with select): on CPU adapters every
// invocation of a SIMD batch walks both sides of a divergent branch.
// Adapters without subgroups use gemm/rows_invocation.wgsl: every invocation loads its TM values
// itself (uniform across the workgroup, so GPUs serve them from cache).
//
// Operand precision: a snippet included ahead of the row-sharing one, gemm/operand_f32.wgsl or
// gemm/operand_f16.wgsl, declares the type `Operand` of the staged A and B values and
// multiply_add, the precision of each term.
//
// TM (rows per workgroup) and TN (columns per invocation) are injected as WGSL constants by the
// variant tables (engine/ops/gemm_tiles.ts, GEMM_CONSTANTS). Each kernel body (conv2d/forward.wgsl,
// ...) is compiled after one of the two row-sharing snippets, gemm/rows_subgroup.wgsl or
// gemm/rows_invocation.wgsl (each includes this file), as its variant declares. The entry point takes `@builtin(workgroup_id) wid`
// and `ids: GemmInvocation` (declared by the rows snippet, since the subgroup lane builtin exists
// only with subgroups enabled; kept apart from wid, which must stay uniform for the k loops).
// Per step the kernel loads A_LOADS values into `a_loaded`, from rows m0 + a_load_row(r, ids)
// (r < A_LOADS), and block_update reads row i of the block with a_value(a_loaded, i). Control
// flow around block_update must be uniform (subgroup operations); the k loops are.
//
// Accumulator layout: acc[i * TN + j] = C[m0 + i][n0 + j * WG].

const BLOCK: u32 = TM * TN;   // accumulators per invocation
override WG: u32 = 64u;

// acc += a b^T for one k: rows i < TM from the loaded A values, b holds B[k][columns] (TN values).
// The staged values are of type Operand and multiply_add forms each term (gemm/operand_*.wgsl:
// f32 fma, or an f16 product added in f32); the accumulators are f32 either way.
fn block_update(acc: ptr<function, array<f32, BLOCK>>, a_loaded: ptr<function, array<Operand, A_LOADS>>, b: ptr<function, array<Operand, TN>>) {
  for (var i = 0u; i < TM; i++) {
    let ai = a_value(a_loaded, i);
    for (var j = 0u; j < TN; j++) { (*acc)[i * TN + j] = multiply_add(ai, (*b)[j], (*acc)[i * TN + j]); }
  }
}

// A mixed-radix counter for implicit-GEMM indices: digits (hi, mid, lo) with radices
// (unbounded, r.y, r.z), e.g. a conv reduction index k = (c*KH + kh)*KW + kw as (c, kh, kw).
// Walking k with additions instead of recomputing it with divisions keeps integer division
// (slow on CPUs and many GPUs) out of the inner loops.
fn radix_next(v: vec3<u32>, r: vec3<u32>) -> vec3<u32> {
  var d = v + vec3<u32>(0u, 0u, 1u);
  if (d.z == r.z) { d.z = 0u; d.y += 1u; }
  if (d.y == r.y) { d.y = 0u; d.x += 1u; }
  return d;
}

// The digits of k in radices (unbounded, r.y, r.z) (once per invocation, not per step).
fn radix_split(k: u32, r: vec3<u32>) -> vec3<u32> {
  let lo = k % r.z;
  let rest = k / r.z;
  return vec3<u32>(rest / r.y, rest % r.y, lo);
}

// The first row and the first column of this invocation.
fn block_row0(wid: vec3<u32>) -> u32 {
  return wid.y * TM;
}
fn block_col0(wid: vec3<u32>, ids: GemmInvocation) -> u32 {
  return wid.x * WG * TN + ids.local;
}
