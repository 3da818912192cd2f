// The shared core of every GEMM-shaped kernel (conv2d forward and both backward passes, matmul):
// a workgroup computes one BM x BN tile of C = A B (A: M x K, B: K x N), stepping through K in
// slices of BK. Each step the workgroup stages A[BM x BK] and B[BK x BN] in workgroup memory,
// then every invocation multiplies its 4 x 4 register block from them.
//
// Invocation layout: @workgroup_size(WG_N, WG_M); invocation (tx, ty) owns outputs
//   rows    m0 + ty*4 .. m0 + ty*4 + 3
//   columns n0 + tx*4 .. n0 + tx*4 + 3
// so BM = 4 * WG_M, BN = 4 * WG_N. The 4 x 4 block is fixed (a row or column of it is one vec4);
// WG_M, WG_N and BK are override constants that the host picks from the adapter's limits.
//
// Staging layout (k-major, so the four values an invocation needs at one k are adjacent):
//   tile_a[kk * BM + mm] = A[m0 + mm][k0 + kk]
//   tile_b[kk * BN + nn] = B[k0 + kk][n0 + nn]
// Who stages what: invocation li (local_invocation_index) stages A row (li % BM), rows
// k-slice positions (li / BM) * A_LOADS + j for j < A_LOADS (consecutive k, so a kernel can walk
// its k index with a cheap counter); the same for B with column (li % BN) and B_LOADS.
// A kernel that includes this file writes those loads itself (its implicit-GEMM indexing is the
// only thing that differs between kernels), then calls gemm_multiply_tile between barriers.

override WG_M: u32 = 16;
override WG_N: u32 = 16;
override BK: u32 = 16;
override BM: u32 = 4u * WG_M;
override BN: u32 = 4u * WG_N;
override THREADS: u32 = WG_M * WG_N;
// Values each invocation stages per step: BM*BK/THREADS of A and BK*BN/THREADS of B (the host
// chooses sizes that make these whole numbers).
override A_LOADS: u32 = BM * BK / THREADS;
override B_LOADS: u32 = BK * BN / THREADS;
override TILE_A: u32 = BM * BK;
override TILE_B: u32 = BK * BN;

var<workgroup> tile_a: array<f32, TILE_A>;
var<workgroup> tile_b: array<f32, TILE_B>;

// One BK-long step of the register block: acc[i][j] += sum_kk A[ty*4+i][kk] * B[kk][tx*4+j].
fn gemm_multiply_tile(acc: ptr<function, array<vec4<f32>, 4>>, tx: u32, ty: u32) {
  let ma = ty * 4u;
  let nb = tx * 4u;
  for (var kk = 0u; kk < BK; kk++) {
    let ra = kk * BM + ma;
    let rb = kk * BN + nb;
    let a = vec4<f32>(tile_a[ra], tile_a[ra + 1u], tile_a[ra + 2u], tile_a[ra + 3u]);
    let b = vec4<f32>(tile_b[rb], tile_b[rb + 1u], tile_b[rb + 2u], tile_b[rb + 3u]);
    (*acc)[0] = fma(vec4<f32>(a.x), b, (*acc)[0]);
    (*acc)[1] = fma(vec4<f32>(a.y), b, (*acc)[1]);
    (*acc)[2] = fma(vec4<f32>(a.z), b, (*acc)[2]);
    (*acc)[3] = fma(vec4<f32>(a.w), b, (*acc)[3]);
  }
}

// A mixed-radix counter for implicit-GEMM indices: digits (hi, mid, lo) with radices
// (unbounded, r.y, r.z), e.g. a conv reduction index k = (c*KH + kh)*KW + kw as (c, kh, kw).
// Walking k with additions instead of recomputing it with divisions keeps integer division
// (slow on CPUs and many GPUs) out of the inner loops. Requires every digit of v and d below
// its radix; at most one carry per digit can then occur.
fn radix_add(v: vec3<u32>, d: vec3<u32>, r: vec3<u32>) -> vec3<u32> {
  var lo = v.z + d.z;
  let carry_lo = select(0u, 1u, lo >= r.z);
  lo -= carry_lo * r.z;
  var mid = v.y + d.y + carry_lo;
  let carry_mid = select(0u, 1u, mid >= r.y);
  mid -= carry_mid * r.y;
  return vec3<u32>(v.x + d.x + carry_mid, mid, lo);
}

// The digits of k in radices (unbounded, r.y, r.z) (used once per invocation, not per step).
fn radix_split(k: u32, r: vec3<u32>) -> vec3<u32> {
  let lo = k % r.z;
  let rest = k / r.z;
  return vec3<u32>(rest / r.y, rest % r.y, lo);
}
