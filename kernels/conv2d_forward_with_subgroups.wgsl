// conv2d_forward with the row values of A shared through subgroups (see gemm_rows_subgroup.wgsl).
#include "gemm_rows_subgroup.wgsl"
#include "conv2d_forward.wgsl"
