// conv2d_forward_row.wgsl for 3-wide stride-2 rows (conv2dForwardRow3s2, the downsampling 3x3), the weight values shared through subgroups (see gemm_rows_subgroup.wgsl).
#include "gemm_rows_subgroup.wgsl"
const ROW_TAPS: u32 = 3u;
const ROW_STRIDE: u32 = 2u;
#include "conv2d_forward_row.wgsl"
