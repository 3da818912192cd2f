/**
 * The arithmetic precision of the GEMM-shaped kernels (conv2d forward and both backward passes,
 * matmul and the linear layers built on it), a process-wide runtime setting:
 *  - 'f32' (default): f32 operands, f32 accumulation;
 *  - 'f16' (opt-in, adapters with 'shader-f16'): the operands of every multiply-add are rounded
 *    to f16 as they are staged in registers (half the registers of f32 staging) and multiplied
 *    in f16; the products are accumulated in f32. The error against float64 grows by up to
 *    3 x 2^-11 of the sum of |products| per output (two operand roundings and the product's,
 *    each at most 2^-11 of its value); each kernel's measured error is printed by
 *    test/ops/gemm_f16.test.ts. Values beyond f16's range (|v| > 65504) do not survive: f16
 *    suits normalized activations and weights. The conv row kernels exist in f32 only, so at
 *    f16 every conv runs the general GEMM kernels.
 * Tensors stay f32 in memory either way; only the GEMM kernels' variant changes (the
 * …F16 entries of MATMUL_VARIANTS and CONV2D_VARIANTS, chosen in engine/ops/gemm_tiles.ts).
 * Reset to 'f32' when the runtime closes (a new device may lack the feature).
 */
import { onRuntimeClose, runtime } from './runtime.ts';
import { LimitError } from './errors.ts';

export type Precision = 'f32' | 'f16';
export const PRECISIONS: readonly Precision[] = ['f32', 'f16'];

let current: Precision = 'f32';
onRuntimeClose(() => {
  current = 'f32';
});

/** The precision in force. */
export function precision(): Precision {
  return current;
}

/** Whether the open runtime's device can run `p` (f16 needs the adapter feature 'shader-f16'). */
export function precisionSupported(p: Precision): boolean {
  return p === 'f32' || runtime().gpu.caps.shaderF16;
}

/**
 * Set the precision for what follows; the runtime must be open. f16 on a device without
 * 'shader-f16' throws a LimitError naming the adapter and the remedy.
 */
export function setPrecision(p: Precision) {
  if (!PRECISIONS.includes(p)) throw new LimitError(`precision '${p}' is not one of ${PRECISIONS.join(', ')}`);
  if (!precisionSupported(p)) {
    const a = runtime().gpu.adapter;
    throw new LimitError(
      `precision f16 needs the adapter feature 'shader-f16', which ${a.name} (${a.backend}, ${a.featureLevel}) lacks; ` +
        `use --precision f32 (the default), or choose an adapter that has it (rbd info lists each adapter's features)`,
    );
  }
  current = p;
}

/** Run fn at precision p (restored after, also on a throw); the same checks as setPrecision. */
export function withPrecision<T>(p: Precision, fn: () => T): T {
  const prev = current;
  setPrecision(p);
  try {
    return fn();
  } finally {
    current = prev;
  }
}
