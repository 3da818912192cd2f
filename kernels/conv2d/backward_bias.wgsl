// conv2dBackwardBias: db[o] = sum_{b, s} dy[b, o, s], the bias gradient of conv2d (s runs over
// the OH*OW output pixels) and of linear (dy: N, O viewed with one pixel).
//   dy: N,O,S   db: O
// One workgroup per output channel o (1-D dispatch of O workgroups, possibly folded); its WG
// invocations stride over the N*S values, then reduce in a fixed tree (include/workgroup_reduce.wgsl).
#include "include/common.wgsl"
#include "include/workgroup_reduce.wgsl"

struct Params { batch: u32, O: u32, S: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  // A folded grid may hold a few workgroups past O: they sum nothing and store nothing, but
  // still run workgroup_sum (its barriers need the whole workgroup, and o is workgroup-uniform).
  let o = linear_workgroup(wid, nwg);
  var s = 0.0;
  if (o < p.O) {
    let count = p.batch * p.S;
    for (var i = lid; i < count; i += WG) {
      s += dy[((i / p.S) * p.O + o) * p.S + i % p.S];
    }
  }
  let total = workgroup_sum(s, lid);
  if (o < p.O && lid == 0u) { db[o] = total; }
}
