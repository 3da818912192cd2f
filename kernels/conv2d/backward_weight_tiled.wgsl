// conv2dBackwardWeightTiled: dw = dL/dw of y = conv2d(x, w), as conv2d/backward_weight.wgsl, on
// the workgroup-memory tiled core (gemm/shared_tile.wgsl; variants:
// CONV2D_VARIANTS.backwardWeightTiled in engine/ops/conv2d.ts).
//   x: N,C,H,W   dy: N,O,OH,OW   dw: O,C,KH,KW
// As an implicit GEMM:
//   m = o                        (M = O)
//   n = (c*KH + kh)*KW + kw      (N = C*KH*KW, the weight's own row layout)
//   k = (b*OH + oh)*OW + ow      (K = N*OH*OW: a long reduction over the batch and the map)
//   A[m][k] = dy[b,o,oh,ow] (contiguous along k);  B[k][n] = the input value tap n reads for
//   output pixel k, 0 in the padding (neighbouring pixels read inputs stride_w apart: walked along k).
// Split-K: workgroup z reduces k in [z*k_split, min(K, (z+1)*k_split)) and writes its partial
// sums to out[z, M, N]. With one split `out` is dw itself; otherwise conv2dBackwardWeightSum
// (gemm/split_k_sum.wgsl) adds the slices in a fixed order (deterministic, no atomics).
// Dispatch: [ceil(N / BN), ceil(M / BM), splits] workgroups.

struct Params {
  batch: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride_h: i32, stride_w: i32, pad_h: i32,
  pad_w: i32, dil_h: i32, dil_w: i32, k_split: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// The first element of this workgroup's split slice in `out`.
var<private> out_slice: u32;

fn a_k_fast() -> bool { return true; }
fn b_n_fast() -> bool { return false; }

// Per A load slot: its output channel's offset o*OH*OW in dy (within an image).
var<private> dy_channel: array<u32, A_LOADS_TILED>;
// Per B load slot: its tap (c, kh, kw) as the channel's offset in x and the shift from (oh*sh, ow*sw).
var<private> x_channel: array<u32, B_LOADS_TILED>;
var<private> dh: array<i32, B_LOADS_TILED>;
var<private> dw: array<i32, B_LOADS_TILED>;

fn a_prepare(t: u32, m: u32) { dy_channel[t] = m * p.OH * p.OW; }

fn tile_a(t: u32, k: u32) -> f32 {
  let OHW = p.OH * p.OW;
  return dy[(k / OHW) * p.O * OHW + dy_channel[t] + k % OHW];
}

fn b_prepare(t: u32, n: u32) {
  let KHW = p.KH * p.KW;
  let r = n % KHW;
  x_channel[t] = (n / KHW) * p.H * p.W;
  dh[t] = i32(r / p.KW) * p.dil_h - p.pad_h;
  dw[t] = i32(r % p.KW) * p.dil_w - p.pad_w;
}

fn tile_b(t: u32, k: u32) -> f32 {
  let OHW = p.OH * p.OW;
  let image = k / OHW;
  let pixel = k % OHW;
  let ih = i32(pixel / p.OW) * p.stride_h + dh[t];
  let iw = i32(pixel % p.OW) * p.stride_w + dw[t];
  // One unsigned compare per axis: a negative position wraps to a huge u32.
  if (u32(ih) >= p.H || u32(iw) >= p.W) { return 0.0; }
  return x[image * p.C * p.H * p.W + x_channel[t] + u32(ih) * p.W + u32(iw)];
}

fn tile_store(m: u32, n: u32, v: f32) {
  out[out_slice + m * p.C * p.KH * p.KW + n] = v;
}

@compute @workgroup_size(TILE_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let M = p.O;
  let N = p.C * p.KH * p.KW;
  let K = p.batch * p.OH * p.OW;
  out_slice = wid.z * M * N;
  let k_begin = wid.z * p.k_split;
  tiled_gemm(M, N, k_begin, min(K, k_begin + p.k_split), wid, lid);
}
