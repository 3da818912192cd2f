// Shared index helpers, included with `#include "include/common.wgsl"`.

// The linear id of this workgroup. The runtime folds a 1-D dispatch that exceeds
// maxComputeWorkgroupsPerDimension into 2-D (x * y >= count), so kernels dispatched with a
// 1-D count must use this (and guard against ids past their element count).
fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
}

// Where flat index i of a stack of row-major planes of `size` = (rows, cols) lies:
// (plane, row, col). Planes are the N*C maps of an NCHW tensor.
fn plane_coords(i: u32, size: vec2<u32>) -> vec3<u32> {
  let col = i % size.y;
  let rest = i / size.y;
  return vec3<u32>(rest / size.x, rest % size.x, col);
}
