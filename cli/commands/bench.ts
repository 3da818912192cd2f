/**
 * rbd bench <name>: the benchmarks. Each one's flags live in cli/commands/bench/<name>.ts, which
 * exports `summary` (one line), `help` (its flags) and `run(argv)` and calls the measuring code
 * in bench/<name>.ts with typed options; adding one is one line in BENCHES.
 * `rbd bench --help` prints every benchmark's help; `rbd bench <name> --help` prints that one's.
 */
import { UsageError, wantsHelp } from '../flags.ts';
import * as kernels from './bench/kernels.ts';
import * as flops from './bench/flops.ts';
import * as speed from './bench/speed.ts';
import * as compare from './bench/compare.ts';
import * as report from './bench/report.ts';
import * as tile from './bench/tile.ts';

interface BenchModule {
  summary: string;
  help: string;
  run(argv: string[]): Promise<number | void>;
}

const BENCHES: Record<string, BenchModule> = {
  kernels,
  flops,
  speed,
  compare,
  report,
  tile,
};

export const help = `usage: rbd bench <benchmark> [flags]

benchmarks:
${Object.entries(BENCHES)
  .map(([n, m]) => `  ${n.padEnd(10)} ${m.summary}`)
  .join('\n')}

${Object.values(BENCHES)
  .map((m) => m.help)
  .join('\n')}`;

/** The CLI leaves --help to this command, so that each benchmark prints only its own flags. */
export const handlesHelp = true;

export async function run(argv: string[]): Promise<number | void> {
  const [name, ...rest] = argv;
  const names = Object.keys(BENCHES).join(', ');
  if (!name) throw new UsageError('bench', `name a benchmark (have: ${names})`);
  if (wantsHelp([name])) {
    process.stdout.write(help.endsWith('\n') ? help : help + '\n');
    return 0;
  }
  const mod = BENCHES[name];
  if (!mod) throw new UsageError('bench', `unknown benchmark '${name}' (have: ${names})`);
  if (wantsHelp(rest)) {
    process.stdout.write(`${mod.summary}\n\n${mod.help.endsWith('\n') ? mod.help : mod.help + '\n'}`);
    return 0;
  }
  return mod.run(rest);
}
