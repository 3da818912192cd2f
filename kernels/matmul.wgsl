// matmul: c = a b (+ bias per column), with either operand read transposed through strides.
//   A[m][k] = a[m * a_sm + k * a_sk]   (a is [M,K]: a_sm = K, a_sk = 1; a is [K,M] read as A^T: 1, M)
//   B[k][n] = b[k * b_sk + n * b_sn]   (b is [K,N]: N, 1; b is [N,K] read as B^T: 1, K)
//   c[m * N + n] = sum_k A[m][k] B[k][n] + (has_bias != 0 ? bias[n] : 0)      c: M,N
// Linear layers use the strides for x w^T, dy^T x and dy w without transposing anything in memory.
// When has_bias is 0, `bias` is bound to any f32 buffer and never read.
// Tiling, register blocking and who stages what: gemm_tile.wgsl.
// Dispatch: [ceil(N/BN), ceil(M/BM)] workgroups of (WG_N, WG_M).
#include "gemm_tile.wgsl"

struct Params {
  M: u32, N: u32, K: u32, has_bias: u32,
  a_sm: u32, a_sk: u32, b_sk: u32, b_sn: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  // A staging: row a_m, consecutive k from a_row; B staging: column b_n, consecutive k from b_row.
  let a_m = m0 + li % BM;
  let a_row = (li / BM) * A_LOADS;
  let b_n = n0 + li % BN;
  let b_row = (li / BN) * B_LOADS;

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var j = 0u; j < A_LOADS; j++) {
      let k = k0 + a_row + j;
      var v = 0.0;
      if (a_m < p.M && k < p.K) { v = a[a_m * p.a_sm + k * p.a_sk]; }
      tile_a[(a_row + j) * BM + li % BM] = v;
    }
    for (var j = 0u; j < B_LOADS; j++) {
      let k = k0 + b_row + j;
      var v = 0.0;
      if (b_n < p.N && k < p.K) { v = b[k * p.b_sk + b_n * p.b_sn]; }
      tile_b[(b_row + j) * BN + li % BN] = v;
    }
    workgroupBarrier();
    gemm_multiply_tile(&acc, lid.x, lid.y);
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x * 4u + j;
      if (n >= p.N) { break; }
      var v = acc[i][j];
      if (p.has_bias != 0u) { v += bias[n]; }
      c[m * p.N + n] = v;
    }
  }
}
