// conv2d_backward_weight_row3 for adapters without subgroups (see gemm_rows_invocation.wgsl).
#include "gemm_rows_invocation.wgsl"
#include "conv2d_backward_weight_row3.wgsl"
