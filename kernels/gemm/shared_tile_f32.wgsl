// Tiles of gemm/shared_tile.wgsl staged in workgroup memory as f32 (every adapter).
alias tile_t = f32;
#include "gemm/shared_tile.wgsl"
