/** A small SVG bar chart (no library: the page must work offline). */
export function barChart(title: string, bars: [string, number][], width = 320, height = 180): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const max = Math.max(...bars.map(([, v]) => (Number.isFinite(v) ? v : 0)), 1e-12);
  const left = 10,
    top = 24,
    bottom = 22,
    gap = 6;
  const bw = (width - left * 2 - gap * (bars.length - 1)) / Math.max(bars.length, 1);
  const ph = height - top - bottom;
  const rects = bars.map(([label, v], i) => {
    const h = Number.isFinite(v) ? (ph * v) / max : 0;
    const x = left + i * (bw + gap);
    const y = top + ph - h;
    return (
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="#4a78b5"><title>${esc(label)}: ${v}</title></rect>` +
      `<text x="${(x + bw / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" font-size="10" text-anchor="middle">${Number.isFinite(v) ? v.toPrecision(3) : 'n/a'}</text>` +
      `<text x="${(x + bw / 2).toFixed(1)}" y="${height - 6}" font-size="11" text-anchor="middle">${esc(label)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(title)}"><text x="${left}" y="15" font-size="12" font-weight="600">${esc(title)}</text>${rects.join('')}</svg>`;
}
