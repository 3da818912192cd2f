// Shared index helpers, included with `#include "common.wgsl"`.

// The linear id of this workgroup. The runtime folds a 1-D dispatch that exceeds
// maxComputeWorkgroupsPerDimension into 2-D (x * y >= count), so kernels dispatched with a
// 1-D count must use this (and guard against ids past their element count).
fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
}
