// conv2d_backward_weight_row.wgsl for 3-wide stride-1 rows (the 3x3 layers), the dy values shared through subgroups (see gemm_rows_subgroup.wgsl).
#include "gemm_rows_subgroup.wgsl"
const ROW_TAPS: u32 = 3u;
const ROW_STRIDE: u32 = 1u;
const PAIRS: u32 = 3u;
#include "conv2d_backward_weight_row.wgsl"
