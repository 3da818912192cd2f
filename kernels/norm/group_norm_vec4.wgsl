// Group normalization for maps whose H*W is a multiple of 4: the same op, entry points and
// dispatches as norm/group_norm.wgsl (read its header for the layouts and the math), with every
// activation read and written 4 elements at a time (x4[i] = x[4i .. 4i+3]).
// Why: lavapipe (and other CPU adapters) fetch a storage-buffer value whose address differs
// per invocation lane by lane, with an address extract and bounds check per lane; a vec4 access
// pays that once per 4 elements. With H*W % 4 == 0 every channel row starts on a vec4, so the
// 4 elements of a vec4 always share one channel.
// Layouts: x4, y4, dy4, dx4: N,C,H,W/4 (vec4 along W); hw4 = H*W/4.
//          weight, bias, dweight, dbias: C.  stats: N,G,2 (mean, rstd).  sums: N,C,2.
// forward reads x twice (not three times as norm/group_norm.wgsl does): the first pass gathers the
// mean and the sum of squared deviations at once (Chan's merging of per-vec4 moments, as
// accurate as two passes: no large sums are subtracted), the second writes y.
// forwardPerSlab and channelSumsPerPlane (at the end) do forward and channelSums with one
// invocation per slab / per plane instead of one workgroup: the op uses them for runs of up to
// GROUP_NORM_PER_INVOCATION_MAX elements (engine/ops/group_norm.ts), where the workgroup's
// reduction tree (a barrier per level) cost more than the loads.
// Epilogue: as in norm/group_norm.wgsl (norm/act_*.wgsl, with Elem = vec4<f32>), so the fused
// ReLU and residual add also move 4 elements per access.
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"
#include "norm/group_norm_params.wgsl"

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats_out: array<f32>;
@group(0) @binding(6) var<storage, read> stats: array<f32>;
@group(0) @binding(7) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read_write> sums_out: array<f32>;
@group(0) @binding(12) var<storage, read> sums: array<f32>;

// The access type of the epilogue (norm/act_*.wgsl): 4 elements of one channel row.
alias Elem = vec4<f32>;

// Moments of a run of values: how many, their mean, and the sum of squared deviations from it.
struct Moments { count: f32, mean: f32, m2: f32 };

// Chan et al.'s merge of the moments of two disjoint runs (either may be empty).
fn merge_moments(a: Moments, b: Moments) -> Moments {
  let count = a.count + b.count;
  let b_share = select(0.0, b.count / count, count > 0.0);
  let delta = b.mean - a.mean;
  return Moments(count, a.mean + delta * b_share, a.m2 + b.m2 + delta * delta * a.count * b_share);
}

var<workgroup> wg_moments: array<Moments, WG>;

// The moments of the whole workgroup's runs (tree of merges); call in uniform control flow.
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

// Workgroup-wide sum of a pair of values: one tree for both (half the barriers of two
// workgroup_sum calls; on lavapipe each barrier switches every SIMD batch of the workgroup,
// which dominates for the small maps of the last stages). Call in uniform control flow.
fn workgroup_sum_pair(v: vec2<f32>, lid: u32) -> vec2<f32> {
  wg_pairs[lid] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) { wg_pairs[lid] = wg_pairs[lid] + wg_pairs[lid + half]; }
    workgroupBarrier();
  }
  let total = wg_pairs[0];
  workgroupBarrier();
  return total;
}

// The runs below serve both layouts: a workgroup per slab or plane (invocation lid walks the
// elements lid, lid + WG, ...) and one invocation per slab or plane (first 0, step 1).

// Moments of one invocation's run of a slab's x - origin, one vec4 at a time: the 4 values' own
// mean and squared deviations (in registers), merged into the running moments.
fn run_moments(base: u32, len4: u32, origin: f32, first: u32, step: u32) -> Moments {
  var m = Moments(0.0, 0.0, 0.0);
  for (var i = first; i < len4; i += step) {
    let v = x4[base + i] - origin;
    let chunk_mean = dot(v, vec4<f32>(0.25));
    let d = v - chunk_mean;
    m = merge_moments(m, Moments(4.0, chunk_mean, dot(d, d)));
  }
  return m;
}

// y = (x - mean) * rstd * weight[c] + bias[c] over one invocation's run of the slab (channel by
// channel, so weight and bias are loaded once per channel), mean = origin + shifted_mean taken
// apart so that x - origin keeps its digits; and the slab's stats (by the run that starts at 0).
fn write_normalized(slab: u32, base: u32, origin: f32, shifted_mean: f32, rstd: f32, first: u32, step: u32) {
  let hw4 = p.hw / 4u;
  let c0 = (slab % p.groups) * p.per_group;
  for (var c = 0u; c < p.per_group; c++) {
    let scale = rstd * weight[c0 + c];
    let shift = bias[c0 + c];
    let row = base + c * hw4;
    for (var px = first; px < hw4; px += step) { y4[row + px] = activate(((x4[row + px] - origin) - shifted_mean) * scale + shift, row + px); }
  }
  if (first == 0u) {
    stats_out[2u * slab] = origin + shifted_mean;
    stats_out[2u * slab + 1u] = rstd;
  }
}

// (sum of dy, sum of dy * xhat) over one invocation's run of plane n*C + c (slab: its group).
fn plane_sums(plane: u32, slab: u32, first: u32, step: u32) -> vec2<f32> {
  let mean = stats[2u * slab];
  let rstd = stats[2u * slab + 1u];
  let hw4 = p.hw / 4u;
  let row = plane * hw4;
  var sum_dy = vec4<f32>(0.0);
  var sum_dy_xhat = vec4<f32>(0.0);
  for (var px = first; px < hw4; px += step) {
    let d = upstream_grad(dy4[row + px], row + px);
    sum_dy += d;
    sum_dy_xhat += d * (x4[row + px] - mean) * rstd;
  }
  return vec2<f32>(dot(sum_dy, vec4<f32>(1.0)), dot(sum_dy_xhat, vec4<f32>(1.0)));
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let slab = linear_workgroup(wid, nwg);
  if (slab >= p.slabs) { return; }
  let hw4 = p.hw / 4u;
  let slab_len4 = p.per_group * hw4;
  let base = slab * slab_len4;
  // Moments of x - origin, origin = the slab's first element: the mean of the shifted values is
  // of the order of the spread, so it carries the digits that an f32 mean far from zero (say
  // 100 +- 0.1) would round away; y uses it directly.
  let origin = x4[base].x;
  let total = workgroup_moments(run_moments(base, slab_len4, origin, lid, WG), lid);
  let shifted_mean = total.mean;
  let rstd = 1.0 / sqrt(total.m2 / total.count + p.eps);
  write_normalized(slab, base, origin, shifted_mean, rstd, lid, WG);
}

@compute @workgroup_size(WG)
fn channelSums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let plane = linear_workgroup(wid, nwg);   // n * C + c
  if (plane >= p.batch * p.channels) { return; }
  let slab = (plane / p.channels) * p.groups + (plane % p.channels) / p.per_group;
  let totals = workgroup_sum_pair(plane_sums(plane, slab, lid, WG), lid);
  if (lid == 0u) {
    sums_out[2u * plane] = totals.x;
    sums_out[2u * plane + 1u] = totals.y;
  }
}

@compute @workgroup_size(WG)
fn backwardInput(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let slab = linear_workgroup(wid, nwg);
  if (slab >= p.slabs) { return; }
  let hw4 = p.hw / 4u;
  let base = slab * p.per_group * hw4;
  let slab_len = f32(p.per_group * p.hw);
  let mean = stats[2u * slab];
  let rstd = stats[2u * slab + 1u];
  let c0 = (slab % p.groups) * p.per_group;
  // Means of g = dy * weight and of g * xhat over the slab, from the per-channel sums (channel
  // c0 + c of this sample is plane slab * per_group + c).
  var sum_g = 0.0;
  var sum_g_xhat = 0.0;
  for (var c = 0u; c < p.per_group; c++) {
    let plane = slab * p.per_group + c;
    let weight_c = weight[c0 + c];
    sum_g += weight_c * sums[2u * plane];
    sum_g_xhat += weight_c * sums[2u * plane + 1u];
  }
  let mean_g = sum_g / slab_len;
  let mean_g_xhat = sum_g_xhat / slab_len;
  for (var c = 0u; c < p.per_group; c++) {
    let weight_c = weight[c0 + c];
    let row = base + c * hw4;
    for (var px = lid; px < hw4; px += WG) {
      let g = dy4[row + px] * weight_c;
      let xhat = (x4[row + px] - mean) * rstd;
      dx4[row + px] = rstd * (g - mean_g - xhat * mean_g_xhat);
    }
  }
}

// channelSums for small maps: one invocation per plane (n * C), no workgroup reduction. A
// workgroup per plane pays its tree's barriers for a handful of loads per invocation when the
// map is small (8x8, 16x16); here each invocation walks its whole map.
// Dispatch: 1-D, ceil(N*C / WG) workgroups.
@compute @workgroup_size(WG)
fn channelSumsPerPlane(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
  let plane = linear_workgroup(wid, nwg) * WG + lid;   // n * C + c
  if (plane >= p.batch * p.channels) { return; }
  let slab = (plane / p.channels) * p.groups + (plane % p.channels) / p.per_group;
  let totals = plane_sums(plane, slab, 0u, 1u);
  sums_out[2u * plane] = totals.x;
  sums_out[2u * plane + 1u] = totals.y;
}

// forward for small slabs: one invocation per (n, g), no workgroup reduction (see
// channelSumsPerPlane). Dispatch: 1-D, ceil(N*G / WG) workgroups.
@compute @workgroup_size(WG)
fn forwardPerSlab(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let slab = linear_workgroup(wid, nwg) * WG + lid;
  if (slab >= p.slabs) { return; }
  let hw4 = p.hw / 4u;
  let slab_len4 = p.per_group * hw4;
  let base = slab * slab_len4;
  let origin = x4[base].x;   // as in forward: moments of x - origin
  let m = run_moments(base, slab_len4, origin, 0u, 1u);
  let shifted_mean = m.mean;
  let rstd = 1.0 / sqrt(m.m2 / m.count + p.eps);
  write_normalized(slab, base, origin, shifted_mean, rstd, 0u, 1u);
}
