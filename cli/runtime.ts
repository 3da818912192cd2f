/**
 * The GPU for a command: the adapter named by the command's --adapter, else by the global one
 * given before the command (`rbd --adapter gl info`), else by RBD_ADAPTER, else auto.
 */
import { initRuntime, closeRuntime, type Runtime } from '../engine/runtime.ts';
import { env } from '../util/env.ts';

let globalAdapter: string | undefined;

/** The --adapter given before the command (cli/rbd.ts). */
export function setGlobalAdapter(adapter: string | undefined) {
  globalAdapter = adapter;
}

/** The adapter choice in force: the command's flag, the global flag, RBD_ADAPTER, auto. */
export function adapterChoice(flag?: string): string {
  return flag ?? globalAdapter ?? env.adapter();
}

/** Open the GPU on the adapter in force. */
export async function openRuntime(adapterFlag?: string): Promise<Runtime> {
  return initRuntime({ adapter: adapterChoice(adapterFlag) });
}

export { closeRuntime };
