// matmul: c = a b (+ bias per column), with either operand read transposed through strides.
//   A[m][k] = a[m * a_sm + k * a_sk]   (a is [M,K]: a_sm = K, a_sk = 1; a is [K,M] read as A^T: 1, M)
//   B[k][n] = b[k * b_sk + n * b_sn]   (b is [K,N]: N, 1; b is [N,K] read as B^T: 1, K)
//   c[m * N + n] = sum_k A[m][k] B[k][n] + (has_bias != 0 ? bias[n] : 0)      c: M,N
// Linear layers use the strides for x w^T, dy^T x and dy w without transposing anything in memory.
// When has_bias is 0, `bias` is bound to any f32 buffer and never read.
// Register blocks and invocation layout: gemm/tile.wgsl; compiled after either row-sharing
// snippet (variants: MATMUL_VARIANTS in engine/ops/matmul.ts). Dispatch: [ceil(N / (WG*TN)), ceil(M / TM)] workgroups.

struct Params {
  M: u32, N: u32, K: u32, has_bias: u32,
  a_sm: u32, a_sk: u32, b_sk: u32, b_sn: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, ids: GemmInvocation) {
  let m0 = block_row0(wid);
  let n0 = block_col0(wid, ids);
  // No early exit for invocations past the output: the row values are shared through subgroup
  // operations, which need every invocation. Rows past M and columns past N read the last row /
  // column (valid addresses); their results are never stored.
  var a_row: array<u32, A_LOADS>;
  for (var r = 0u; r < A_LOADS; r++) { a_row[r] = min(m0 + a_load_row(r, ids), p.M - 1u) * p.a_sm; }
  var b_col: array<u32, TN>;
  for (var j = 0u; j < TN; j++) { b_col[j] = min(n0 + j * WG, p.N - 1u) * p.b_sn; }

  var acc: array<f32, BLOCK>;
  var av: array<Operand, A_LOADS>;
  var bv: array<Operand, TN>;
  for (var k = 0u; k < p.K; k++) {
    let ak = k * p.a_sk;
    let bk = k * p.b_sk;
    for (var r = 0u; r < A_LOADS; r++) { av[r] = Operand(a[a_row[r] + ak]); }
    for (var j = 0u; j < TN; j++) { bv[j] = Operand(b[bk + b_col[j]]); }
    block_update(&acc, &av, &bv);
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j * WG;
      if (n >= p.N) { continue; }
      var v = acc[i * TN + j];
      if (p.has_bias != 0u) { v += bias[n]; }
      c[m * p.N + n] = v;
    }
  }
}
