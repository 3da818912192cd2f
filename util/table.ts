/**
 * Plain-text tables for the terminal, and the number formats every table and report uses.
 *
 *   textTable(['kernel', 'ms'], [['matmul', '1.25']], new Set([1]))
 *   kernel    ms
 *   ------  ----
 *   matmul  1.25
 */

/** Render rows under a header; columns listed in `right` are right-aligned (numbers). */
export function textTable(head: string[], rows: string[][], right: Set<number> = new Set()): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Columns 1..n-1 right-aligned: the common case of a label column followed by numbers. */
export function numericColumns(count: number, from = 1): Set<number> {
  const s = new Set<number>();
  for (let i = from; i < count; i++) s.add(i);
  return s;
}

/** A number with `digits` significant digits, without exponent notation for everyday sizes. */
export function fmtNum(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e9) {
    const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(a)));
    return v.toFixed(Math.min(decimals, 6));
  }
  return v.toExponential(digits - 1);
}

/** Bytes with a binary unit: 1.50 MiB. */
export function fmtBytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = b;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(2)} ${units[u]}`;
}

/** A fraction as a percentage: 0.4231 -> '42.3%'. */
export function fmtPercent(f: number): string {
  return Number.isFinite(f) ? `${(100 * f).toFixed(1)}%` : 'n/a';
}
