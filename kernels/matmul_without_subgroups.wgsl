// matmul for adapters without subgroups (see gemm_rows_invocation.wgsl).
#include "gemm_rows_invocation.wgsl"
#include "matmul.wgsl"
