// 2-D max pooling (PyTorch max_pool2d, no dilation, floor output size).
// Layouts: x, dx: N,C,H,W.  y, dy, argmax: N,C,OH,OW; argmax (i32) is the index ih*W + iw of
//          the chosen input within its H x W plane.
// Padding acts as -infinity: only in-bounds inputs compete (the op checks padding <= kernel/2,
// so every window holds at least one). Ties go to the first maximum in row-major window order.
// Entry points (one invocation per element, 1-D dispatches of ceil(count / WG) workgroups):
//   forward:  per output element: y = max over the window, argmax = where it was.
//   backward: a gather (deterministic, no atomics): dx = sum of dy over the windows that contain
//             this input and chose it (overlapping windows accumulate). One invocation per 4x4
//             cell of inputs (planes * ceil(H/4) * ceil(W/4) invocations) reads argmax and dy of
//             every window touching its cell once: for 3x3/2 that is 9 windows (18 loads) per 16
//             inputs, where a per-input gather read ~2.25 windows (4.5 loads) per input, each
//             load done lane by lane on CPU adapters.
//   backwardVec4: backward for W % 4 == 0, storing each cell row as one vec4 (binding dx4).
//   forward3x3s2: forward for the ResNet stem pool (kernel 3, stride 2, padding 1) with W % 8 == 0:
//             one invocation per 4 consecutive outputs of a row (planes * OH * OW/4 of them)
//             reads the 3 input rows as 3 aligned vec4s each (9 accesses for 4 outputs, against
//             36 with one invocation per output) and stores y and argmax as vec4s (bindings x4,
//             y4, argmax4); the same tie rule, taps visited in row-major window order.
#include "include/common.wgsl"

struct Params {
  planes: u32,          // N * C
  in_size: vec2<u32>,   // H, W
  out_size: vec2<u32>,  // OH, OW
  kernel: vec2<u32>,    // KH, KW
  stride: vec2<u32>,
  padding: vec2<u32>,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<i32>;
@group(0) @binding(4) var<storage, read> argmax_saved: array<i32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> argmax4: array<vec4<i32>>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WG + lid;
  if (o >= p.planes * p.out_size.x * p.out_size.y) { return; }
  let pos = plane_coords(o, p.out_size);
  let plane = pos.x;
  let oh = pos.y;
  let ow = pos.z;
  let h0 = i32(oh * p.stride.x) - i32(p.padding.x);
  let w0 = i32(ow * p.stride.y) - i32(p.padding.y);
  let base = plane * p.in_size.x * p.in_size.y;
  var best = 0.0;
  var best_at = -1;
  for (var kh = 0; kh < i32(p.kernel.x); kh++) {
    let ih = h0 + kh;
    if (ih < 0 || ih >= i32(p.in_size.x)) { continue; }
    for (var kw = 0; kw < i32(p.kernel.y); kw++) {
      let iw = w0 + kw;
      if (iw < 0 || iw >= i32(p.in_size.y)) { continue; }
      let at = ih * i32(p.in_size.y) + iw;
      let v = x[base + u32(at)];
      // Strictly greater: a later equal value does not replace the first maximum.
      if (best_at < 0 || v > best) {
        best = v;
        best_at = at;
      }
    }
  }
  y[o] = best;
  argmax[o] = best_at;
}

// Sums of dy for the 4 x 4 cell of inputs at rows r0 .. r0 + 3, columns c0 .. c0 + 3 of one
// plane, one vec4 per row (components: columns c0 .. c0 + 3). Every window touching the cell is
// read once (argmax and dy) and its gradient added to the cell input it chose, with selects: no
// branch per window. Cells stick out of the map at its right and bottom edges when H or W is
// not a multiple of 4; the caller stores only the inputs inside the map.
struct CellSums { row0: vec4<f32>, row1: vec4<f32>, row2: vec4<f32>, row3: vec4<f32> };

fn cell_sums(plane: u32, r0: i32, c0: i32) -> CellSums {
  let h = i32(p.in_size.x);
  let w = i32(p.in_size.y);
  // Windows containing a row of the cell: from the first covering r0 to the last covering its
  // last row inside the map; likewise for columns.
  let rows = vec2<i32>(window_range(r0, i32(p.kernel.x), i32(p.stride.x), i32(p.padding.x), i32(p.out_size.x)).x,
                       window_range(min(r0 + 3, h - 1), i32(p.kernel.x), i32(p.stride.x), i32(p.padding.x), i32(p.out_size.x)).y);
  let cols = vec2<i32>(window_range(c0, i32(p.kernel.y), i32(p.stride.y), i32(p.padding.y), i32(p.out_size.y)).x,
                       window_range(min(c0 + 3, w - 1), i32(p.kernel.y), i32(p.stride.y), i32(p.padding.y), i32(p.out_size.y)).y);
  // Plane indices (what argmax holds) of the cell's four rows.
  let at0 = vec4<i32>(r0 * w + c0) + vec4<i32>(0, 1, 2, 3);
  let at1 = at0 + w;
  let at2 = at1 + w;
  let at3 = at2 + w;
  var s = CellSums(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var oh = rows.x; oh <= rows.y; oh++) {
    for (var ow = cols.x; ow <= cols.y; ow++) {
      let o = (plane * p.out_size.x + u32(oh)) * p.out_size.y + u32(ow);
      let chosen = vec4<i32>(argmax_saved[o]);
      let g = vec4<f32>(dy[o]);
      s.row0 += select(vec4<f32>(0.0), g, at0 == chosen);
      s.row1 += select(vec4<f32>(0.0), g, at1 == chosen);
      s.row2 += select(vec4<f32>(0.0), g, at2 == chosen);
      s.row3 += select(vec4<f32>(0.0), g, at3 == chosen);
    }
  }
  return s;
}

// The cell of invocation `cell` (planes * ceil(H/4) * ceil(W/4) of them): (plane, r0, c0).
fn cell_origin(cell: u32) -> vec3<u32> {
  let pos = plane_coords(cell, vec2<u32>((p.in_size.x + 3u) / 4u, (p.in_size.y + 3u) / 4u));
  return vec3<u32>(pos.x, 4u * pos.y, 4u * pos.z);
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let cell = linear_workgroup(wid, nwg) * WG + lid;
  if (cell >= p.planes * ((p.in_size.x + 3u) / 4u) * ((p.in_size.y + 3u) / 4u)) { return; }
  let origin = cell_origin(cell);
  let s = cell_sums(origin.x, i32(origin.y), i32(origin.z));
  let rows = array<vec4<f32>, 4>(s.row0, s.row1, s.row2, s.row3);
  let plane_base = origin.x * p.in_size.x * p.in_size.y;
  for (var r = 0u; r < 4u; r++) {
    let ih = origin.y + r;
    if (ih >= p.in_size.x) { break; }
    for (var c = 0u; c < 4u; c++) {
      let iw = origin.z + c;
      if (iw < p.in_size.y) { dx[plane_base + ih * p.in_size.y + iw] = rows[r][c]; }
    }
  }
}

// backward for W % 4 == 0: each cell row is one aligned vec4 of dx (dx4[i] = dx[4i .. 4i+3]),
// stored in one access instead of four.
@compute @workgroup_size(WG)
fn backwardVec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let cell = linear_workgroup(wid, nwg) * WG + lid;
  if (cell >= p.planes * ((p.in_size.x + 3u) / 4u) * (p.in_size.y / 4u)) { return; }
  let origin = cell_origin(cell);
  let s = cell_sums(origin.x, i32(origin.y), i32(origin.z));
  let w4 = p.in_size.y / 4u;
  let at = (origin.x * p.in_size.x + origin.y) * w4 + origin.z / 4u;
  let h = p.in_size.x;
  dx4[at] = s.row0;
  if (origin.y + 1u < h) { dx4[at + w4] = s.row1; }
  if (origin.y + 2u < h) { dx4[at + 2u * w4] = s.row2; }
  if (origin.y + 3u < h) { dx4[at + 3u * w4] = s.row3; }
}

// First and last output index (inclusive) whose window covers input index i along one axis;
// empty (first > last) when none does.
fn window_range(i: i32, k: i32, s: i32, pad: i32, out: i32) -> vec2<i32> {
  let lowest_start = i + pad - k + 1;  // the window must start at or after this
  var first = 0;
  if (lowest_start > 0) { first = (lowest_start + s - 1) / s; }
  let last = min(out - 1, (i + pad) / s);
  return vec2<i32>(first, last);
}

// forward for kernel 3, stride 2, padding 1 and W % 8 == 0 (so OW = W / 2 is a multiple of 4).
// Outputs ow0 .. ow0 + 3 (ow0 = 4q) of row oh read input columns 8q - 1 .. 8q + 7 of rows
// 2*oh - 1 .. 2*oh + 1: the vec4s at columns 8q - 4 (only its last column), 8q and 8q + 4.
// Only column -1 (q = 0) and rows -1 and H can fall outside; the right edge never does.
@compute @workgroup_size(WG)
fn forward3x3s2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let quads = p.out_size.y / 4u;
  let i = linear_workgroup(wid, nwg) * WG + lid;   // (plane*OH + oh)*quads + q
  if (i >= p.planes * p.out_size.x * quads) { return; }
  let q = i % quads;
  let out_row = i / quads;
  let oh = out_row % p.out_size.x;
  let plane = out_row / p.out_size.x;
  let h = p.in_size.x;
  let w = p.in_size.y;
  let w4 = w / 4u;
  var best = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  var best_at = array<i32, 4>(-1, -1, -1, -1);
  for (var kh = 0u; kh < 3u; kh++) {
    let ih = 2u * oh + kh - 1u;        // wraps to a huge u32 above row 0
    let row_in = ih < h;
    let at = (plane * h + ih) * w4 + 2u * q;
    let left_in = row_in & (q > 0u);
    let v0 = select(vec4<f32>(), x4[select(0u, at - 1u, left_in)], left_in);
    let v1 = select(vec4<f32>(), x4[select(0u, at, row_in)], row_in);
    let v2 = select(vec4<f32>(), x4[select(0u, at + 1u, row_in)], row_in);
    // Columns 8q - 1 .. 8q + 7 as cols[0 .. 8].
    let cols = array<f32, 9>(v0.w, v1.x, v1.y, v1.z, v1.w, v2.x, v2.y, v2.z, v2.w);
    for (var j = 0u; j < 4u; j++) {
      for (var kw = 0u; kw < 3u; kw++) {
        let t = 2u * j + kw;           // column 8q - 1 + t
        let inside = row_in & (t > 0u || q > 0u);
        let v = cols[t];
        // Strictly greater: a later equal value does not replace the first maximum.
        let take = inside & (best_at[j] < 0 || v > best[j]);
        best[j] = select(best[j], v, take);
        best_at[j] = select(best_at[j], i32(ih * w + 8u * q + t) - 1, take);
      }
    }
  }
  y4[i] = vec4<f32>(best[0], best[1], best[2], best[3]);
  argmax4[i] = vec4<i32>(best_at[0], best_at[1], best_at[2], best_at[3]);
}
