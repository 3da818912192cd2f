// The shared core of the workgroup-memory tiled GEMM kernels (conv2d forward and both backward
// passes, matmul: conv2d/*_tiled.wgsl, gemm/matmul_tiled.wgsl): C = A B, A: M x K, B: K x N,
// over one reduction range [k_begin, k_end) per workgroup (split-K gives each z its own range).
//
// Layout: a workgroup of TILE_WG = (BM / RM) * (BN / RN) invocations owns a BM x BN output tile.
// Per step of BK reductions it stages A[m0.., k0..] (BM x BK) and B[k0.., n0..] (BK x BN) in
// workgroup memory, every invocation loading (BM * BK) / TILE_WG and (BK * BN) / TILE_WG values;
// after a barrier each invocation multiplies its RM x RN register block out of the tiles (BK
// steps of RM + RN workgroup-memory reads and RM * RN multiply-adds), and a second barrier
// keeps the next step's loads from overwriting tiles still being read.
//   invocation lid:  tx = lid % TILE_COLS, ty = lid / TILE_COLS  (TILE_COLS = BN / RN)
//   its outputs:     rows m0 + ty + i * TILE_ROWS (i < RM), columns n0 + tx + j * TILE_COLS (j < RN)
// Strided rather than contiguous blocks: neighbouring invocations read neighbouring b_tile words
// (no bank conflicts), the same a_tile word (a broadcast), and store neighbouring columns.
// Global loads are coalesced: load e = lid + t * TILE_WG walks the operand's contiguous axis
// fastest, which each body names (a_k_fast(), b_n_fast(); matmul decides from its strides).
//
// BM, BN, BK, RM, RN are injected as WGSL constants by the variant table (engine/ops/
// shared_tile_config.ts: SHARED_TILE_CONFIGS); TILE_WG must divide BM * BK and BK * BN. `tile_t`,
// the type the tiles are staged in (f32, or f16 where the adapter has shader-f16), comes from
// gemm/shared_tile_f32.wgsl or gemm/shared_tile_f16.wgsl, compiled ahead of this file; the
// register blocks always accumulate in f32.
//
// Load slot t of an invocation (t < A_LOADS_TILED, or B_LOADS_TILED) reads the same row m (or
// column n) at every step; only k moves. So a body splits each operand's index math in two: the
// row's (column's) part, once per invocation, and the reduction's part, per value:
//   fn a_prepare(t: u32, m: u32)           remember what load slot t needs of row m (m < M)
//   fn tile_a(t: u32, k: u32) -> f32       A[m][k] for slot t's row, k_begin <= k < k_end
//   fn b_prepare(t: u32, n: u32)           likewise for column n (n < N)
//   fn tile_b(t: u32, k: u32) -> f32       B[k][n] for slot t's column
//   fn tile_store(m: u32, n: u32, v: f32)  the result C[m][n], called only for m < M, n < N
//   fn a_k_fast() -> bool, fn b_n_fast() -> bool   the contiguous axis of each operand (uniform)
// and calls tiled_gemm from its entry point, in uniform control flow (it holds the barriers).
// Out-of-range rows, columns and reductions are staged as 0 (tile_a / tile_b are not called for
// them; a slot past M or N is prepared with the last row or column), so any M, N, K works.

const TILE_ROWS: u32 = BM / RM;      // invocations along m
const TILE_COLS: u32 = BN / RN;      // invocations along n
const TILE_WG: u32 = TILE_ROWS * TILE_COLS;
const A_LOADS_TILED: u32 = (BM * BK) / TILE_WG;
const B_LOADS_TILED: u32 = (BK * BN) / TILE_WG;

var<workgroup> a_tile: array<tile_t, BK * BM>;   // a_tile[kk * BM + mm] = A[m0 + mm][k0 + kk]
var<workgroup> b_tile: array<tile_t, BK * BN>;   // b_tile[kk * BN + nn] = B[k0 + kk][n0 + nn]

// The tile's row mm and reduction kk of load e: along k fastest when A is contiguous along k.
fn a_load_coords(e: u32, k_fast: bool) -> vec2<u32> {
  return select(vec2<u32>(e % BM, e / BM), vec2<u32>(e / BK, e % BK), k_fast);
}

// The tile's reduction kk and column nn of load e: along n fastest when B is contiguous along n.
fn b_load_coords(e: u32, n_fast: bool) -> vec2<u32> {
  return select(vec2<u32>(e % BK, e / BK), vec2<u32>(e / BN, e % BN), n_fast);
}

// C[m0.., n0..] (one BM x BN tile, workgroup wid.xy: x along n, y along m) over k in [k_begin, k_end).
fn tiled_gemm(M: u32, N: u32, k_begin: u32, k_end: u32, wid: vec3<u32>, lid: u32) {
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let tx = lid % TILE_COLS;
  let ty = lid / TILE_COLS;
  let k_fast = a_k_fast();
  let n_fast = b_n_fast();

  for (var t = 0u; t < A_LOADS_TILED; t++) { a_prepare(t, min(m0 + a_load_coords(lid + t * TILE_WG, k_fast).x, M - 1u)); }
  for (var t = 0u; t < B_LOADS_TILED; t++) { b_prepare(t, min(n0 + b_load_coords(lid + t * TILE_WG, n_fast).y, N - 1u)); }

  var acc: array<f32, RM * RN>;
  var ar: array<f32, RM>;
  var br: array<f32, RN>;
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    for (var t = 0u; t < A_LOADS_TILED; t++) {
      let mk = a_load_coords(lid + t * TILE_WG, k_fast);
      let m = m0 + mk.x;
      let k = k0 + mk.y;
      var v = 0.0;
      if (m < M && k < k_end) { v = tile_a(t, k); }
      a_tile[mk.y * BM + mk.x] = tile_t(v);
    }
    for (var t = 0u; t < B_LOADS_TILED; t++) {
      let kn = b_load_coords(lid + t * TILE_WG, n_fast);
      let k = k0 + kn.x;
      let n = n0 + kn.y;
      var v = 0.0;
      if (n < N && k < k_end) { v = tile_b(t, k); }
      b_tile[kn.x * BN + kn.y] = tile_t(v);
    }
    workgroupBarrier();
    // Only the staged reductions that exist: the last step of a range may hold fewer than BK.
    // (A trip count the compiler cannot fold also keeps this loop rolled: on lavapipe the
    // unrolled form compiled 2-4x slower and ran no faster; see the commit that chose it.)
    let steps = min(BK, k_end - k0);
    for (var kk = 0u; kk < steps; kk++) {
      for (var i = 0u; i < RM; i++) { ar[i] = f32(a_tile[kk * BM + ty + i * TILE_ROWS]); }
      for (var j = 0u; j < RN; j++) { br[j] = f32(b_tile[kk * BN + tx + j * TILE_COLS]); }
      for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) { acc[i * RN + j] = fma(ar[i], br[j], acc[i * RN + j]); }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < RM; i++) {
    let m = m0 + ty + i * TILE_ROWS;
    if (m >= M) { break; }
    for (var j = 0u; j < RN; j++) {
      let n = n0 + tx + j * TILE_COLS;
      if (n < N) { tile_store(m, n, acc[i * RN + j]); }
    }
  }
}
