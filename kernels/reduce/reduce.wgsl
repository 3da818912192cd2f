// Sum (times a factor: 1 for sum, 1/count for mean) over the middle axis of x viewed as
// [outer, R, inner], and its transpose, the broadcast used by backward. Reductions over several
// non-adjacent axes run as one pass per run of adjacent axes (see engine/ops/reduce.ts).
// Layouts: x: outer,R,inner.  y: outer,inner.  For broadcast: g: outer,inner -> out: outer,R,inner.
// Entry points (1-D dispatches, possibly folded to 2-D):
//   sumWide:   one workgroup per output, its invocations split R and reduce in shared memory
//              (long reductions). outer*inner workgroups.
//   sumNarrow: one invocation per output, a loop over R (short reductions, many outputs).
//              ceil(outer*inner / WG) workgroups.
//   broadcast: out[o, r, i] = factor * g[o, i], one invocation per element of out.
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"

struct Params {
  outer: u32,
  reduced: u32,  // R
  inner: u32,
  factor: f32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// WG (the workgroup size, a power of two) is declared by include/workgroup_reduce.wgsl.

@compute @workgroup_size(WG)
fn sumWide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg);
  if (o >= p.outer * p.inner) { return; }
  let base = (o / p.inner) * p.reduced * p.inner + o % p.inner;
  var s = 0.0;
  for (var r = lid; r < p.reduced; r += WG) { s += x[base + r * p.inner]; }
  let total = workgroup_sum(s, lid);
  if (lid == 0u) { y[o] = p.factor * total; }
}

@compute @workgroup_size(WG)
fn sumNarrow(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WG + lid;
  if (o >= p.outer * p.inner) { return; }
  let base = (o / p.inner) * p.reduced * p.inner + o % p.inner;
  var s = 0.0;
  for (var r = 0u; r < p.reduced; r++) { s += x[base + r * p.inner]; }
  y[o] = p.factor * s;
}

@compute @workgroup_size(WG)
fn broadcast(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= p.outer * p.reduced * p.inner) { return; }
  let o = i / (p.reduced * p.inner);
  out[i] = p.factor * g[o * p.inner + i % p.inner];
}
