// matmulTiled: c = a b (+ bias per column), as gemm/matmul.wgsl (same uniforms: either operand
// read transposed through strides), on the workgroup-memory tiled core (gemm/shared_tile.wgsl;
// variants: MATMUL_VARIANTS.tiled in engine/ops/matmul.ts).
//   A[m][k] = a[m * a_sm + k * a_sk]   B[k][n] = b[k * b_sk + n * b_sn]
//   c[m * N + n] = sum_k A[m][k] B[k][n] + (has_bias != 0 ? bias[n] : 0)      c: M,N
// Each operand is staged walking its unit-stride axis (k for A when a_sk == 1, n for B when
// b_sn == 1), so global loads stay coalesced whether or not it is transposed.
// Dispatch: [ceil(N / BN), ceil(M / BM)] workgroups. When has_bias is 0, `bias` is bound to any
// f32 buffer and never read.

struct Params {
  M: u32, N: u32, K: u32, has_bias: u32,
  a_sm: u32, a_sk: u32, b_sk: u32, b_sn: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

fn a_k_fast() -> bool { return p.a_sk == 1u; }
fn b_n_fast() -> bool { return p.b_sn == 1u; }

// Per load slot: its row's offset in a, its column's offset in b.
var<private> a_row: array<u32, A_LOADS_TILED>;
var<private> b_col: array<u32, B_LOADS_TILED>;

fn a_prepare(t: u32, m: u32) { a_row[t] = m * p.a_sm; }
fn tile_a(t: u32, k: u32) -> f32 { return a[a_row[t] + k * p.a_sk]; }
fn b_prepare(t: u32, n: u32) { b_col[t] = n * p.b_sn; }
fn tile_b(t: u32, k: u32) -> f32 { return b[k * p.b_sk + b_col[t]]; }

fn tile_store(m: u32, n: u32, v: f32) {
  var out = v;
  if (p.has_bias != 0u) { out += bias[n]; }
  c[m * p.N + n] = out;
}

@compute @workgroup_size(TILE_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  tiled_gemm(p.M, p.N, 0u, p.K, wid, lid);
}
