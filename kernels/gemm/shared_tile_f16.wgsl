// Tiles of gemm/shared_tile.wgsl staged in workgroup memory as f16 (adapter feature shader-f16,
// `enable f16;`): half the workgroup memory and bandwidth per step; each staged value is rounded
// to f16 once (relative error at most 2^-11), and the register blocks still accumulate in f32.
alias tile_t = f16;
#include "gemm/shared_tile.wgsl"
