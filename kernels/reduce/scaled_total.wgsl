// total[0] = scale * sum(partials[0..n)): the last step of every scalar loss (per-row or
// per-chunk partial sums -> one scalar, e.g. scale = 1/N for a batch mean).
// One workgroup; each invocation sums a strided slice, then the workgroup tree-reduces, so the
// order of additions is fixed and the result is the same on every run.
#include "include/workgroup_reduce.wgsl"

struct Params { n: u32, scale: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < p.n; i = i + WG) { s = s + partials[i]; }
  s = workgroup_sum(s, lid);
  if (lid == 0u) { total[0] = s * p.scale; }
}
