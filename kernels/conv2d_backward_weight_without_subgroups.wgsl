// conv2d_backward_weight for adapters without subgroups (see gemm_rows_invocation.wgsl).
#include "gemm_rows_invocation.wgsl"
#include "conv2d_backward_weight.wgsl"
