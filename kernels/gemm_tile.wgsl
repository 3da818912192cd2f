// The shared core of every GEMM-shaped kernel (conv2d forward and both backward passes, matmul):
// C = A B with A: M x K, B: K x N, computed in register blocks. Each invocation owns a block of
// TM x TN = 8 x 8 outputs of C and walks the whole reduction k once, loading per step the 8
// values A[rows][k] and the 8 values B[k][columns] into registers and doing 64 multiply-adds
// (as 16 vec4 fma). A workgroup of WG_N x WG_M invocations covers a BM x BN = (8*WG_M) x (8*WG_N)
// tile. Only the loads differ between kernels (their implicit-GEMM indexing), so each kernel
// writes its own loop around block_update.
//
// Invocation layout: @workgroup_size(WG_N, WG_M); invocation (tx, ty) of workgroup (wx, wy) owns
//   rows    wy*BM + ty*TM .. + TM-1      columns wx*BN + tx*TN .. + TN-1
// Why no workgroup-memory staging: on CPU adapters (lavapipe) a barrier is a switch between
// coroutines and the staged copy is pure extra traffic; measured, staging 64x64 tiles through
// workgroup memory ran about half as fast per CPU-second as reading through the caches (see
// engine/ops/gemm_tiles.ts). Neighbouring invocations read neighbouring columns, so their
// loads share cache lines on GPUs too.
//
// Accumulator layout: acc[2*i + h] = C[row i][columns 4h .. 4h+3] of the block.

const TM: u32 = 8u;
const TN: u32 = 8u;
override WG_M: u32 = 4u;
override WG_N: u32 = 16u;
override BM: u32 = TM * WG_M;
override BN: u32 = TN * WG_N;

// acc += a b^T for one k: a holds A[rows][k] (TM values), b holds B[k][columns] (TN values).
fn block_update(acc: ptr<function, array<vec4<f32>, 16>>, a: ptr<function, array<f32, 8>>, b: ptr<function, array<f32, 8>>) {
  let b0 = vec4<f32>((*b)[0], (*b)[1], (*b)[2], (*b)[3]);
  let b1 = vec4<f32>((*b)[4], (*b)[5], (*b)[6], (*b)[7]);
  for (var i = 0u; i < TM; i++) {
    let ai = vec4<f32>((*a)[i]);
    (*acc)[2u * i] = fma(ai, b0, (*acc)[2u * i]);
    (*acc)[2u * i + 1u] = fma(ai, b1, (*acc)[2u * i + 1u]);
  }
}

// C[row i][column j] of the block.
fn block_value(acc: ptr<function, array<vec4<f32>, 16>>, i: u32, j: u32) -> f32 {
  return (*acc)[2u * i + j / 4u][j % 4u];
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
