/**
 * rbd bench compare A.json B.json: two benchmark runs side by side (two adapters, two commits,
 * two batch sizes), with the ratio B / A of every number they share.
 *
 * Works on any JSON a benchmark here writes: the rows are the first array found under
 * `results`, `rows`, `kernels` or `ops`; a row is identified by its `mag`, `kernel`, `op` or
 * `name` field (plus `shape` when there is one), so rows are matched by what they measure, not
 * by position. Every numeric field present in both matched rows is compared, as are numeric
 * top-level fields (e.g. `rooflineGflops`). Rows found in only one file are listed as such.
 * A ratio is null where A is 0 and B is not (it would be infinite).
 */
import { textTable, fmtNum } from '../util/table.ts';

export type Json = Record<string, unknown>;

const ROW_ARRAYS = ['results', 'rows', 'kernels', 'ops'];
const KEY_FIELDS = ['mag', 'kernel', 'op', 'name'];

export interface FieldRatio {
  /** The row's identity (e.g. '10x', 'conv2dForward 3x3 32ch'), or '(run)' for top-level fields. */
  row: string;
  field: string;
  a: number;
  b: number;
  /** b / a; 1 when both are 0; null when only a is 0. */
  ratio: number | null;
}

export interface Comparison {
  /** Where the two runs differ in what produced them (adapter, commit, command, ...). */
  context: { field: string; a: string; b: string }[];
  ratios: FieldRatio[];
  onlyInA: string[];
  onlyInB: string[];
}

export function ratioOf(a: number, b: number): number | null {
  if (a === 0) return b === 0 ? 1 : null;
  return b / a;
}

function rowsOf(doc: Json): Json[] {
  for (const k of ROW_ARRAYS) {
    const v = doc[k];
    if (Array.isArray(v)) return v.filter((r): r is Json => typeof r === 'object' && r !== null);
  }
  return [];
}

function rowKey(r: Json): string | null {
  const id = KEY_FIELDS.map((k) => r[k]).find((v) => typeof v === 'string' || typeof v === 'number');
  if (id === undefined) return null;
  return typeof r.shape === 'string' ? `${id} ${r.shape}` : String(id);
}

function numericFields(r: Json): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of Object.entries(r)) if (typeof v === 'number' && Number.isFinite(v)) out.set(k, v);
  return out;
}

function describe(doc: Json, path: string[]): string {
  let v: unknown = doc;
  for (const p of path) v = v && typeof v === 'object' ? (v as Json)[p] : undefined;
  if (v === undefined || v === null) return '-';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

const CONTEXT: [string, string[]][] = [
  ['benchmark', ['benchmark']],
  ['adapter', ['adapter', 'name']],
  ['backend', ['adapter', 'backend']],
  ['git commit', ['git', 'commit']],
  ['webgpu', ['webgpuVersion']],
  ['precision', ['precision']],
  ['node', ['nodeVersion']],
  ['batch', ['batch']],
  ['date', ['date']],
  ['command', ['commandLine']],
];

/** Compare two parsed benchmark JSON documents. */
export function compareRuns(a: Json, b: Json): Comparison {
  const context = CONTEXT.map(([field, path]) => ({ field, a: describe(a, path), b: describe(b, path) })).filter(
    (c) => c.a !== '-' || c.b !== '-',
  );
  const ratios: FieldRatio[] = [];
  const pushShared = (row: string, fa: Map<string, number>, fb: Map<string, number>) => {
    for (const [field, va] of fa) {
      const vb = fb.get(field);
      if (vb !== undefined) ratios.push({ row, field, a: va, b: vb, ratio: ratioOf(va, vb) });
    }
  };
  pushShared('(run)', numericFields(a), numericFields(b));
  const keyed = (doc: Json) => {
    const m = new Map<string, Json>();
    for (const r of rowsOf(doc)) {
      const k = rowKey(r);
      if (k !== null && !m.has(k)) m.set(k, r);
    }
    return m;
  };
  const ra = keyed(a),
    rb = keyed(b);
  for (const [k, rowA] of ra) {
    const rowB = rb.get(k);
    if (rowB) pushShared(k, numericFields(rowA), numericFields(rowB));
  }
  return {
    context,
    ratios,
    onlyInA: [...ra.keys()].filter((k) => !rb.has(k)),
    onlyInB: [...rb.keys()].filter((k) => !ra.has(k)),
  };
}

export function formatComparison(c: Comparison, nameA: string, nameB: string): string {
  const out: string[] = [];
  out.push(
    textTable(
      ['', `A: ${nameA}`, `B: ${nameB}`],
      c.context.map((x) => [x.field, x.a, x.b]),
    ),
  );
  out.push('');
  const cells = c.ratios.map((r) => [r.row, r.field, fmtNum(r.a, 4), fmtNum(r.b, 4), r.ratio === null ? 'n/a' : fmtNum(r.ratio, 3)]);
  out.push(textTable(['row', 'field', 'A', 'B', 'B/A'], cells, new Set([2, 3, 4])));
  if (c.onlyInA.length) out.push(`only in A: ${c.onlyInA.join(', ')}`);
  if (c.onlyInB.length) out.push(`only in B: ${c.onlyInB.join(', ')}`);
  return out.join('\n');
}
