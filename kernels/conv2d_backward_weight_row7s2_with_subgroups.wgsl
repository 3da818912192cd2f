// conv2d_backward_weight_row.wgsl for 7-wide stride-2 rows (the stem; one input row per invocation: 7 columns), the dy values shared through subgroups (see gemm_rows_subgroup.wgsl).
#include "gemm_rows_subgroup.wgsl"
const ROW_TAPS: u32 = 7u;
const ROW_STRIDE: u32 = 2u;
const PAIRS: u32 = 1u;
#include "conv2d_backward_weight_row.wgsl"
