/**
 * rbd bench <name>: the benchmarks. Each lives in bench/<name>.ts and exports `summary` (one
 * line), `help` (its flags) and `run(argv)`; adding one is one line in BENCHES.
 * `rbd bench --help` (and `rbd bench <name> --help`) prints every benchmark's help.
 */
import { UsageError } from '../util.ts';
import * as kernels from '../../bench/kernels.ts';
import * as flops from '../../bench/flops.ts';
import * as speed from '../../bench/speed.ts';
import * as compare from '../../bench/compare.ts';
import * as report from '../../bench/report.ts';

interface BenchModule { summary: string; help: string; run(argv: string[]): Promise<number | void> }

const BENCHES: Record<string, BenchModule> = {
  kernels,
  flops,
  speed,
  compare,
  report,
};

export const help = `usage: rbd bench <benchmark> [flags]

benchmarks:
${Object.entries(BENCHES).map(([n, m]) => `  ${n.padEnd(10)} ${m.summary}`).join('\n')}

${Object.values(BENCHES).map((m) => m.help).join('\n')}`;

export async function run(argv: string[]): Promise<number | void> {
  const [name, ...rest] = argv;
  const names = Object.keys(BENCHES).join(', ');
  if (!name) throw new UsageError('bench', `name a benchmark (${names})`);
  const mod = BENCHES[name];
  if (!mod) throw new UsageError('bench', `unknown benchmark '${name}' (have: ${names})`);
  return mod.run(rest);
}
