// conv2d_forward_row3 with the weight values shared through subgroups (see gemm_rows_subgroup.wgsl).
#include "gemm_rows_subgroup.wgsl"
#include "conv2d_forward_row3.wgsl"
