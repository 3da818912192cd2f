// The uniform parameters shared by norm/group_norm.wgsl and norm/group_norm_vec4.wgsl (binding 0).
struct Params {
  slabs: u32,      // N * G
  groups: u32,     // G
  channels: u32,   // C
  per_group: u32,  // C / G
  hw: u32,         // H * W
  batch: u32,      // N
  eps: f32,
};
@group(0) @binding(0) var<uniform> p: Params;
