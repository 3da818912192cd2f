// conv2d_backward_weight_row3 with the dy values shared through subgroups (see gemm_rows_subgroup.wgsl).
#include "gemm_rows_subgroup.wgsl"
#include "conv2d_backward_weight_row3.wgsl"
