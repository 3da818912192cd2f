/**
 * The GPU for a command: the adapter named by the command's --adapter, else by the global one
 * given before the command (`rbd --adapter gl info`), else by RBD_ADAPTER, else auto.
 */
import { initRuntime, closeRuntime, type Runtime } from '../engine/runtime.ts';
import { checkForcedVariants } from '../engine/variant_choice.ts';
import { applyTuneCache } from '../bench/tune_cache.ts';
import { env } from '../util/env.ts';
// The ops whose selection points RBD_VARIANT may name: loaded here so that every point is declared.
import '../engine/ops/conv2d.ts';
import '../engine/ops/matmul.ts';
import '../engine/ops/group_norm.ts';
import { setPrecision, type Precision } from '../engine/precision.ts';

let globalAdapter: string | undefined;

/** The --adapter given before the command (cli/rbd.ts). */
export function setGlobalAdapter(adapter: string | undefined) {
  globalAdapter = adapter;
}

/** The adapter choice in force: the command's flag, the global flag, RBD_ADAPTER, auto. */
export function adapterChoice(flag?: string): string {
  return flag ?? globalAdapter ?? env.adapter();
}

/**
 * Open the GPU on the adapter in force, at `precision` (engine/precision.ts; f16 on an adapter
 * without 'shader-f16' closes the GPU again and throws the error that names the adapter and the
 * remedy), with the tuned variant choices of the tune cache for it (bench/tune_cache.ts; a stale
 * entry is ignored with a one-line note on stderr); a bad RBD_VARIANT is an error here, before any work.
 */
export async function openRuntime(adapterFlag?: string, precision: Precision = 'f32'): Promise<Runtime> {
  const rt = await initRuntime({ adapter: adapterChoice(adapterFlag) });
  try {
    setPrecision(precision);
    checkForcedVariants();
  } catch (e) {
    await closeRuntime();
    throw e;
  }
  const tuned = applyTuneCache(rt.gpu.adapter);
  if (tuned.note) console.error(tuned.note);
  return rt;
}

export { closeRuntime };
