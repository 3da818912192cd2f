/**
 * Self-contained SVG plots (no scripts, no external fonts or files), embedded inline in the
 * HTML reports and written as .svg files: line/point charts with optional error bars, ROC
 * curves, confusion matrices and horizontal bar charts.
 */
import { fmtNum } from './table.ts';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/** Escape text for SVG/HTML content and attributes. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface Series {
  name: string;
  points: { x: number; y: number; low?: number; high?: number }[];
  /** Draw the line between points (default true); false draws markers only. */
  line?: boolean;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** log2 x axis (magnifications, image counts). */
  xLog2?: boolean;
  yRange?: [number, number];
  xRange?: [number, number];
  /** Tick labels for specific x values (e.g. '10x'); default: the values themselves. */
  xTicks?: { x: number; label: string }[];
  width?: number;
  height?: number;
  /** A diagonal reference line from (xmin, ymin) to (xmax, ymax) (ROC chance line). */
  diagonal?: boolean;
  /** Shift series i by (i - (count-1)/2) * dodge pixels along x, so error bars at the same x stay apart. */
  dodge?: number;
}

function fmt(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(2);
}

/** A line chart with markers and optional vertical error bars (low/high) per point. */
export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 560,
    H = o.height ?? 360;
  const m = { left: 60, right: 150, top: 34, bottom: 48 };
  const pw = W - m.left - m.right,
    ph = H - m.top - m.bottom;
  const tx = (x: number) => (o.xLog2 ? Math.log2(x) : x);
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  const xs = all.map((p) => tx(p.x));
  const ys = all.flatMap((p) => [p.y, p.low ?? p.y, p.high ?? p.y]).filter(Number.isFinite);
  let [x0, x1] = o.xRange ? [tx(o.xRange[0]), tx(o.xRange[1])] : [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = o.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (!Number.isFinite(x0) || !Number.isFinite(x1)) [x0, x1] = [0, 1];
  if (!Number.isFinite(y0) || !Number.isFinite(y1)) [y0, y1] = [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 0.05, y1 + 0.05];
  const padX = o.xRange ? 0 : (x1 - x0) * 0.05;
  x0 -= padX;
  x1 += padX;
  const pxBase = (x: number) => m.left + ((tx(x) - x0) / (x1 - x0)) * pw;
  const py = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2 - m.right / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(o.title)}</text>`);
  // Axes, grid and ticks.
  const yTicks = 5;
  for (let k = 0; k <= yTicks; k++) {
    const y = y0 + ((y1 - y0) * k) / yTicks;
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${py(y)}" y2="${py(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(Number(y.toPrecision(3)))}</text>`);
  }
  const ticks = o.xTicks ?? [...new Set(all.map((p) => p.x))].sort((a, b) => a - b).map((x) => ({ x, label: fmt(x) }));
  for (const t of ticks) {
    out.push(`<line x1="${pxBase(t.x)}" x2="${pxBase(t.x)}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="black"/>`);
    out.push(`<text x="${pxBase(t.x)}" y="${m.top + ph + 16}" text-anchor="middle">${escapeXml(t.label)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  if (o.diagonal)
    out.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top}" stroke="#999" stroke-dasharray="4 3"/>`);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const shift = (o.dodge ?? 0) * (i - (series.length - 1) / 2);
    const px = (x: number) => pxBase(x) + shift;
    const pts = s.points.filter((p) => Number.isFinite(p.y));
    if (s.line !== false && pts.length > 1) {
      const d = pts.map((p, k) => `${k ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join('');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
    }
    for (const p of pts) {
      if (p.low !== undefined && p.high !== undefined && Number.isFinite(p.low) && Number.isFinite(p.high)) {
        out.push(`<line x1="${px(p.x)}" x2="${px(p.x)}" y1="${py(p.low)}" y2="${py(p.high)}" stroke="${color}"/>`);
      }
      if (s.line === false || pts.length < 40)
        out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const ly = m.top + 10 + i * 16;
    out.push(
      `<line x1="${m.left + pw + 10}" x2="${m.left + pw + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`,
    );
    out.push(`<text x="${m.left + pw + 32}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** One-vs-rest ROC curves, one per class, with their AUC in the legend. */
export function rocChart(curves: { fpr: number; tpr: number }[][], classes: string[], aucs: number[], title: string): string {
  const series: Series[] = curves.map((pts, c) => ({
    name: `${classes[c]} (AUC ${Number.isNaN(aucs[c]) ? 'n/a' : aucs[c].toFixed(3)})`,
    points: pts.map((p) => ({ x: p.fpr, y: p.tpr })),
  }));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((x) => ({ x, label: String(x) }));
  return lineChart(series, {
    title,
    xLabel: 'false positive rate',
    yLabel: 'true positive rate',
    xRange: [0, 1],
    yRange: [0, 1],
    xTicks: ticks,
    diagonal: true,
    width: 600,
  });
}

/** A confusion matrix as a heat map: rows true class, columns predicted class, counts in cells. */
export function confusionChart(matrix: number[][], classes: string[], title: string): string {
  const cell = 56,
    left = 120,
    top = 56;
  const n = classes.length;
  const W = left + n * cell + 20,
    H = top + n * cell + 16;
  const max = Math.max(1, ...matrix.flat());
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>`);
  out.push(`<text x="${left + (n * cell) / 2}" y="${top - 22}" text-anchor="middle">predicted</text>`);
  for (let r = 0; r < n; r++) {
    out.push(`<text x="${left - 6}" y="${top + r * cell + cell / 2 + 4}" text-anchor="end">${escapeXml(classes[r])}</text>`);
    out.push(`<text x="${left + r * cell + cell / 2}" y="${top - 6}" text-anchor="middle">${escapeXml(classes[r].slice(0, 9))}</text>`);
    for (let c = 0; c < n; c++) {
      const v = matrix[r][c];
      const shade = Math.round(255 - (v / max) * 200);
      out.push(
        `<rect x="${left + c * cell}" y="${top + r * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="white"/>`,
      );
      out.push(
        `<text x="${left + c * cell + cell / 2}" y="${top + r * cell + cell / 2 + 4}" text-anchor="middle" fill="${v / max > 0.6 ? 'white' : 'black'}">${v}</text>`,
      );
    }
  }
  out.push(`<text transform="translate(14 ${top + (n * cell) / 2}) rotate(-90)" text-anchor="middle">true class</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** A horizontal bar chart (label, value) sorted as given; values as a share in percent. */
export function barChart(bars: { label: string; value: number; note?: string }[], title: string, unit: string): string {
  const rowH = 20,
    left = 220,
    right = 140,
    top = 34;
  const W = 720,
    H = top + bars.length * rowH + 30;
  const max = Math.max(1e-12, ...bars.map((b) => b.value));
  const pw = W - left - right;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>`);
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = (b.value / max) * pw;
    out.push(`<text x="${left - 6}" y="${y + 13}" text-anchor="end">${escapeXml(b.label)}</text>`);
    out.push(`<rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="#1f77b4"/>`);
    out.push(`<text x="${left + w + 6}" y="${y + 13}">${escapeXml(`${fmtNum(b.value)} ${unit}${b.note ? ` ${b.note}` : ''}`)}</text>`);
  });
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + bars.length * rowH}" stroke="black"/>`);
  out.push('</svg>');
  return out.join('\n');
}
