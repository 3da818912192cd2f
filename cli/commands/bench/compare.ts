/** rbd bench compare A.json B.json: two benchmark runs side by side (bench/compare.ts). */
import { readFileSync } from 'node:fs';
import { compareRuns, formatComparison, type Json } from '../../../bench/compare.ts';
import { benchMeta } from '../../../bench/meta.ts';
import { writeJson } from '../../../util/files.ts';
import { UsageError, parseFlags } from '../../flags.ts';

function load(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('bench compare', `cannot read '${path}': ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('the top level is not an object');
    return v as Json;
  } catch (e) {
    throw new UsageError(
      'bench compare',
      `'${path}' is not a benchmark JSON file (${(e as Error).message}); pass files written with --json`,
    );
  }
}

export const summary = 'two benchmark JSON files side by side, with the ratio B/A of every shared number';

export const help = `usage: rbd bench compare A.json B.json [--field TEXT] [--json FILE]

Puts two runs of a benchmark side by side (e.g. two adapters, or two commits): first what
produced them (adapter, backend, commit, versions, batch, date, command line), then every
numeric field the two share, row by row, with the ratio B/A. Rows are matched by their mag,
kernel, op or name (and shape), not by position; rows in only one file are listed.
Works with the JSON of bench flops, bench speed, bench kernels and profile.

  --field TEXT   only fields whose name contains TEXT (e.g. 'PerSec', 'gflops', 'ms')
  --json FILE    also write the comparison as JSON
`;

export async function run(argv: string[]): Promise<number> {
  const cmd = 'bench compare';
  const { values, positionals } = parseFlags(cmd, argv, { field: { type: 'string' }, json: { type: 'string' } }, true);
  if (positionals.length !== 2) throw new UsageError(cmd, `give exactly two JSON files (A and B), got ${positionals.length}`);
  const [pa, pb] = positionals;
  const c = compareRuns(load(pa), load(pb));
  const field = values.field;
  if (field) c.ratios = c.ratios.filter((r) => r.field.toLowerCase().includes(field.toLowerCase()));
  console.log(formatComparison(c, pa, pb));
  if (values.json) {
    writeJson(values.json, { ...benchMeta(null, cmd, {}), a: pa, b: pb, ...c });
    console.log(`wrote ${values.json}`);
  }
  return 0;
}
