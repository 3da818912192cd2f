// conv2d_forward_row.wgsl for 7-wide stride-2 rows (conv2dForwardRow7s2, the stem), the weight values shared through subgroups (see gemm_rows_subgroup.wgsl).
#include "gemm_rows_subgroup.wgsl"
const ROW_TAPS: u32 = 7u;
const ROW_STRIDE: u32 = 2u;
#include "conv2d_forward_row.wgsl"
