/**
 * The opt-in precision hook of the tiled GEMM kernels: which conv forward and GEMM launchers stage
 * their tiles in a given precision (engine/ops/conv2d.ts conv2dForwardTiled, matmul.ts gemmTiled).
 */
import type { Tensor } from '../tensor.ts';
import { conv2dForwardTiled, type ConvGeometry } from './conv2d.ts';
import { gemmTiled, type GemmOperand } from './matmul.ts';
import { checkTiledPrecision } from './gemm_shared.ts';
import type { TilePrecision } from './shared_tile_config.ts';

/** The passes a precision choice replaces (see precisionVariants). */
export interface PrecisionPasses {
  precision: TilePrecision;
  conv2dForward: (x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry) => Tensor;
  gemm: (a: GemmOperand, b: GemmOperand, bias: Tensor | null) => Tensor;
}

/**
 * The hook for an opt-in precision (`--precision f16`): the conv forward and GEMM launchers that
 * stage their tiles in `precision`, for the caller to run in place of conv2dForward / gemm.
 * 'f32' gives the f32-tiled kernels (the same results as the register-blocked ones up to
 * summation order). 'f16' needs shader-f16 (tiledPrecisions() says whether this adapter has it;
 * a LimitError names the feature otherwise): every operand value is rounded to f16 once as it is
 * staged (relative error at most u = 2^-11; values below f16's normal range 2^-14 lose up to
 * 2^-25 absolutely) and the products are accumulated in f32, so an output of a length-n
 * reduction is off by at most about 2u * sum_k |a_k b_k| + the f32 bound (engine/check.ts
 * TOL.forLength(n)); test/ops/tiled_f16.test.ts checks exactly that bound and prints the worst
 * error per kernel. The backward passes stay f32.
 */
export function precisionVariants(precision: TilePrecision): PrecisionPasses {
  checkTiledPrecision('precisionVariants', precision);
  return {
    precision,
    conv2dForward: (x, w, b, g) => conv2dForwardTiled(x, w, b, g, undefined, precision),
    gemm: (a, b, bias) => gemmTiled(a, b, bias, undefined, precision),
  };
}
