/** Small helpers shared by the CLI commands: flag parsing with clear errors, and runtime setup. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { initRuntime, closeRuntime, type Runtime } from '../engine/runtime.ts';

export class UsageError extends Error {
  constructor(command: string, detail: string) {
    super(`rbd ${command}: ${detail}. See 'rbd ${command} --help'.`);
    this.name = 'UsageError';
  }
}

/** The global flags every GPU command accepts. */
export const GLOBAL_OPTIONS = {
  adapter: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** parseArgs, strict, with errors that name the command and the flag. */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError(command, (e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/** Parse a numeric flag, with a message naming it when it is not a number in range. */
export function numberFlag(command: string, name: string, value: string | undefined, fallback: number, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    const range = [opts.integer ? 'a whole number' : 'a number', opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' ');
    throw new UsageError(command, `--${name} must be ${range}, got '${value}'`);
  }
  return n;
}

/** Open the GPU on the adapter named by --adapter (or RBD_ADAPTER, or auto). */
export async function openRuntime(adapter?: string): Promise<Runtime> {
  return initRuntime({ adapter });
}

export { closeRuntime };

/** One line for the user: the message, without a stack unless RBD_DEBUG asks for it. */
export function formatError(err: unknown): string {
  const e = err as Error;
  if (process.env.RBD_DEBUG?.includes('stack')) return e.stack ?? String(e);
  const msg = e?.message ?? String(err);
  return msg.startsWith("rbd ") ? msg : `rbd: ${msg}`;
}
