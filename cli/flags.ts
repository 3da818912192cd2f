/**
 * Flag parsing for every command, with errors that name the command and the flag. Parsing lives
 * only in cli/: the modules below take typed options. A UsageError makes rbd exit with code 2
 * (runtime errors exit with 1).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseMag, requireMag, type Mag } from '../data/mag.ts';
import { PRESETS, presetArch, type ResNetArch } from '../models/arch.ts';
import { magInputs, DEFAULT_MAGS, type MagInput } from '../bench/flops.ts';
import { UsageError } from './usage_error.ts';
import { PRECISIONS, type Precision } from '../engine/precision.ts';

export { UsageError };

/** The global flags: accepted before the command (`rbd --adapter gl info`) and by every command. */
export const GLOBAL_OPTIONS = {
  adapter: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** The --help line of --adapter, its description starting at column `width`. */
export function adapterHelp(width: number): string {
  return `${'  --adapter NAME'.padEnd(width)}WebGPU adapter: auto, vulkan, gl or a name substring (default: the --adapter given
${' '.repeat(width)}before the command, else env RBD_ADAPTER, else auto)`;
}

/** The --precision flag of the commands that run the model's kernels (engine/precision.ts). */
export const PRECISION_OPTION = { precision: { type: 'string' } } as const satisfies ParseArgsConfig['options'];

/** The --help line of --precision, its description starting at column `width`. */
export function precisionHelp(width: number): string {
  return `${'  --precision P'.padEnd(width)}arithmetic of the conv and matmul kernels: f32, or f16 (f16 products, f32 sums;
${' '.repeat(width)}adapters with 'shader-f16' only; less accurate, see engine/precision.ts) (default f32)`;
}

/** The --precision value: f32 (default) or f16; whether the adapter can run it is checked when the GPU opens. */
export function precisionFlag(command: string, value: string | undefined): Precision {
  const v = value ?? 'f32';
  if (!(PRECISIONS as readonly string[]).includes(v))
    throw new UsageError(command, `--precision '${v}' is not one of ${PRECISIONS.join(', ')}`);
  return v as Precision;
}

/** parseArgs, strict, with errors that name the command and the flag. */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError(command, (e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/** Parse a numeric flag, with a message naming it when it is not a number in range. */
export function numberFlag(
  command: string,
  name: string,
  value: string | undefined,
  fallback: number,
  opts: { min?: number; max?: number; integer?: boolean } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (
    value.trim() === '' ||
    !Number.isFinite(n) ||
    (opts.integer && !Number.isInteger(n)) ||
    (opts.min !== undefined && n < opts.min) ||
    (opts.max !== undefined && n > opts.max)
  ) {
    const range = [
      opts.integer ? 'a whole number' : 'a number',
      opts.min !== undefined ? `>= ${opts.min}` : '',
      opts.max !== undefined ? `<= ${opts.max}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    throw new UsageError(command, `--${name} must be ${range}, got '${value}'`);
  }
  return n;
}

/** A comma list of whole numbers >= 1 (e.g. --gemm-sizes 256,512). */
export function listFlag(command: string, name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const out = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => numberFlag(command, name, s, 0, { min: 1, integer: true }));
  if (!out.length) throw new UsageError(command, `--${name} lists no value`);
  return out;
}

/** A magnification flag, checked for its form (whether the data has it is checked on open). */
export function magFlag(command: string, name: string, value: string | undefined, fallback: string): string {
  const v = value ?? fallback;
  if (v && !parseMag(v)) throw new UsageError(command, `--${name} '${v}' is not a magnification; write it like 10x, 5x, 2.5x or 1.25x`);
  return v;
}

/**
 * A list of magnifications ('10x,5x,2.5x') and a tile side as benchmark inputs, highest
 * magnification first (bench/flops.ts magInputs); errors name `flag`.
 */
export function magsFlag(command: string, value: string | undefined, tile: number, flag = '--mags'): MagInput[] {
  const text = value ?? DEFAULT_MAGS;
  let mags: Mag[];
  try {
    mags = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => requireMag(s, flag));
  } catch (e) {
    throw new UsageError(command, (e as Error).message);
  }
  if (mags.length === 0) throw new UsageError(command, `${flag} lists no magnification (e.g. ${DEFAULT_MAGS})`);
  if (new Set(mags.map((m) => m.value)).size !== mags.length)
    throw new UsageError(command, `${flag} '${text}' lists a magnification twice`);
  try {
    return magInputs(mags, tile);
  } catch (e) {
    throw new UsageError(command, `${flag} with --tile ${tile}: ${(e as Error).message}`);
  }
}

/** The `--arch` preset, with a message listing the choices. */
export function archFlag(command: string, name: string | undefined): { name: string; arch: ResNetArch } {
  const n = name ?? 'rbd';
  if (!PRESETS[n]) throw new UsageError(command, `--arch '${n}' is not a preset; choose one of: ${Object.keys(PRESETS).join(', ')}`);
  return { name: n, arch: presetArch(n) };
}

/** Whether the arguments ask for help. */
export function wantsHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}
