// Group normalization shaped for GPUs: one workgroup per (sample, group) slab at every map size,
// each invocation reading 4 consecutive elements at a time, neighbouring invocations reading
// neighbouring vec4s (coalesced). The op, layouts and math are those of norm/group_norm.wgsl
// (read its header); the differences are in how the work is spread:
//   forwardSlab:       one workgroup per (n, g): moments of the slab (Chan's merging, as
//                      norm/group_norm_vec4.wgsl), then y; writes stats.
//   channelSumsSlab:   one workgroup per (n, g): LANES invocations per channel plane, WG / LANES
//                      planes at a time, each plane reduced by its own LANES-wide tree (so a 7x7
//                      map keeps 16 planes in flight instead of idling a workgroup on 13 vec4s).
//   backwardInputSlab: one workgroup per (n, g): dx over the slab.
// Alignment: a slab (or plane) need not start on a vec4 (L = (C/G)*H*W may be odd), so the
// invocations walk the vec4s of the whole tensor that overlap the run, [first / 4, (end + 3) / 4),
// and use only the elements inside it. Stores are per element (y, dx, dz as f32 arrays): a vec4
// store could straddle two slabs, which two workgroups would then both write.
// The last vec4 of a tensor whose size is not a multiple of 4 lies past the end of the vec4 view
// (x4 covers floor(size / 4) vec4s), so it is gathered from the f32 view (x, dy) instead:
// the op binds the same buffer to both names, read-only.
// Reductions: each invocation in a fixed order, then a tree in a fixed order: deterministic.
// Layouts: x, x4, y, dy, dy4, dx: N,C,H,W (x4, dy4: the same memory as vec4s).
//          weight, bias: C.  stats: N,G,2 (mean, rstd).  sums: N,C,2.
// Dispatches: 1-D, N*G workgroups for all three.
// Epilogue: norm/act_*.wgsl with Elem = f32 (per element, as the stores).
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"
#include "norm/group_norm_params.wgsl"

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats_out: array<f32>;
@group(0) @binding(6) var<storage, read> stats: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;
@group(0) @binding(9) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read_write> sums_out: array<f32>;
@group(0) @binding(12) var<storage, read> sums: array<f32>;

alias Elem = f32;

// Invocations per channel plane in channelSumsSlab: a power of two <= WG (the op fits it to H*W).
override LANES: u32 = 32;

// Vec4 q of x (elements 4q .. 4q+3); past the vec4 view, gathered from the f32 view, 0 past the end.
fn load_x4(q: u32) -> vec4<f32> {
  if (q < arrayLength(&x4)) { return x4[q]; }
  let n = arrayLength(&x);
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (4u * q + j < n) { v[j] = x[4u * q + j]; } }
  return v;
}
fn load_dy4(q: u32) -> vec4<f32> {
  if (q < arrayLength(&dy4)) { return dy4[q]; }
  let n = arrayLength(&dy);
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (4u * q + j < n) { v[j] = dy[4u * q + j]; } }
  return v;
}

// Which of the elements 4q .. 4q+3 lie in [first, end).
fn inside(q: u32, first: u32, end: u32) -> vec4<bool> {
  let e = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
  return (e >= vec4<u32>(first)) & (e < vec4<u32>(end));
}

struct Moments { count: f32, mean: f32, m2: f32 };

// Chan et al.'s merge of the moments of two disjoint runs (either may be empty).
fn merge_moments(a: Moments, b: Moments) -> Moments {
  let count = a.count + b.count;
  let b_share = select(0.0, b.count / count, count > 0.0);
  let delta = b.mean - a.mean;
  return Moments(count, a.mean + delta * b_share, a.m2 + b.m2 + delta * delta * a.count * b_share);
}

var<workgroup> wg_moments: array<Moments, WG>;

fn workgroup_moments(m: Moments, lid: u32) -> Moments {
  wg_moments[lid] = m;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) { wg_moments[lid] = merge_moments(wg_moments[lid], wg_moments[lid + half]); }
    workgroupBarrier();
  }
  let total = wg_moments[0];
  workgroupBarrier();
  return total;
}

var<workgroup> wg_pairs: array<vec2<f32>, WG>;

@compute @workgroup_size(WG)
fn forwardSlab(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let slab = linear_workgroup(wid, nwg);
  if (slab >= p.slabs) { return; }
  let len = p.per_group * p.hw;
  let first = slab * len;
  let end = first + len;
  let q_end = (end + 3u) / 4u;
  // Moments of x - origin (origin: the slab's first element), as norm/group_norm_vec4.wgsl: the
  // shifted mean keeps the digits an f32 mean far from zero would round away.
  let origin = x[first];
  var m = Moments(0.0, 0.0, 0.0);
  for (var q = first / 4u + lid; q < q_end; q += WG) {
    let in_run = inside(q, first, end);
    let v = select(vec4<f32>(0.0), load_x4(q) - origin, in_run);
    let count = dot(select(vec4<f32>(0.0), vec4<f32>(1.0), in_run), vec4<f32>(1.0));
    let chunk_mean = dot(v, vec4<f32>(1.0)) / count;
    let d = select(vec4<f32>(0.0), v - chunk_mean, in_run);
    m = merge_moments(m, Moments(count, chunk_mean, dot(d, d)));
  }
  let total = workgroup_moments(m, lid);
  let shifted_mean = total.mean;
  let rstd = 1.0 / sqrt(total.m2 / total.count + p.eps);
  let c0 = (slab % p.groups) * p.per_group;
  for (var q = first / 4u + lid; q < q_end; q += WG) {
    let v = load_x4(q);
    for (var j = 0u; j < 4u; j++) {
      let e = 4u * q + j;
      if (e >= first && e < end) {
        let c = c0 + (e - first) / p.hw;
        y[e] = activate(((v[j] - origin) - shifted_mean) * rstd * weight[c] + bias[c], e);
      }
    }
  }
  if (lid == 0u) {
    stats_out[2u * slab] = origin + shifted_mean;
    stats_out[2u * slab + 1u] = rstd;
  }
}

@compute @workgroup_size(WG)
fn channelSumsSlab(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let slab = linear_workgroup(wid, nwg);
  if (slab >= p.slabs) { return; }
  let mean = stats[2u * slab];
  let rstd = stats[2u * slab + 1u];
  let lane = lid % LANES;
  // Planes of this slab: slab * per_group + c (n * C + channel), c = 0 .. per_group - 1.
  for (var c_base = 0u; c_base < p.per_group; c_base += WG / LANES) {
    let c = c_base + lid / LANES;
    let plane = slab * p.per_group + c;
    var acc = vec2<f32>(0.0);
    if (c < p.per_group) {
      let first = plane * p.hw;
      let end = first + p.hw;
      for (var q = first / 4u + lane; q < (end + 3u) / 4u; q += LANES) {
        let xv = load_x4(q);
        let dv = load_dy4(q);
        let in_run = inside(q, first, end);
        for (var j = 0u; j < 4u; j++) {
          if (in_run[j]) {
            let d = upstream_grad(dv[j], 4u * q + j);
            acc += vec2<f32>(d, d * (xv[j] - mean) * rstd);
          }
        }
      }
    }
    // One tree per group of LANES invocations (a plane), in a fixed order.
    wg_pairs[lid] = acc;
    workgroupBarrier();
    for (var half = LANES / 2u; half > 0u; half = half / 2u) {
      if (lane < half) { wg_pairs[lid] = wg_pairs[lid] + wg_pairs[lid + half]; }
      workgroupBarrier();
    }
    if (lane == 0u && c < p.per_group) {
      sums_out[2u * plane] = wg_pairs[lid].x;
      sums_out[2u * plane + 1u] = wg_pairs[lid].y;
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn backwardInputSlab(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let slab = linear_workgroup(wid, nwg);
  if (slab >= p.slabs) { return; }
  let len = p.per_group * p.hw;
  let first = slab * len;
  let end = first + len;
  let mean = stats[2u * slab];
  let rstd = stats[2u * slab + 1u];
  let c0 = (slab % p.groups) * p.per_group;
  // Means of g = dy * weight and of g * xhat over the slab, from the per-channel sums.
  var sum_g = 0.0;
  var sum_g_xhat = 0.0;
  for (var c = 0u; c < p.per_group; c++) {
    let plane = slab * p.per_group + c;
    sum_g += weight[c0 + c] * sums[2u * plane];
    sum_g_xhat += weight[c0 + c] * sums[2u * plane + 1u];
  }
  let mean_g = sum_g / f32(len);
  let mean_g_xhat = sum_g_xhat / f32(len);
  for (var q = first / 4u + lid; q < (end + 3u) / 4u; q += WG) {
    let xv = load_x4(q);
    let dv = load_dy4(q);
    for (var j = 0u; j < 4u; j++) {
      let e = 4u * q + j;
      if (e >= first && e < end) {
        let g = dv[j] * weight[c0 + (e - first) / p.hw];
        let xhat = (xv[j] - mean) * rstd;
        dx[e] = rstd * (g - mean_g - xhat * mean_g_xhat);
      }
    }
  }
}
