// conv2d_backward_input for adapters without subgroups (see gemm_rows_invocation.wgsl).
#include "gemm_rows_invocation.wgsl"
#include "conv2d_backward_input.wgsl"
