/**
 * A report as a list of blocks (headings, paragraphs, lists, tables, figures), rendered twice
 * from the same content: Markdown (figures linked as .svg files next to it) and one
 * self-contained HTML page (figures inlined as SVG, styles inline, no scripts, no network).
 * Inline markup in text: `code` and **bold** only.
 */
import { join } from 'node:path';
import { escapeXml } from './svg.ts';
import { writeFileAtomic } from './files.ts';

export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; head: string[]; rows: string[][]; align?: ('left' | 'right')[] }
  | { kind: 'figure'; file: string; svg: string; caption: string };

export const heading = (level: 1 | 2 | 3, text: string): Block => ({ kind: 'heading', level, text });
export const paragraph = (text: string): Block => ({ kind: 'paragraph', text });
export const list = (items: string[]): Block => ({ kind: 'list', items });
export const table = (head: string[], rows: string[][], align?: ('left' | 'right')[]): Block => ({ kind: 'table', head, rows, align });
/** A figure saved as `file` (relative to the report) and inlined in the HTML. */
export const figure = (file: string, svg: string, caption: string): Block => ({ kind: 'figure', file, svg, caption });

export function toMarkdown(blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${b.text}`);
        break;
      case 'paragraph':
        out.push(b.text);
        break;
      case 'list':
        out.push(b.items.map((i) => `- ${i}`).join('\n'));
        break;
      case 'table': {
        const cell = (s: string) => s.replace(/\|/g, '\\|');
        const lines = [
          `| ${b.head.map(cell).join(' | ')} |`,
          `| ${b.head.map((_, i) => (b.align?.[i] === 'right' ? '---:' : '---')).join(' | ')} |`,
          ...b.rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
        ];
        out.push(lines.join('\n'));
        break;
      }
      case 'figure':
        out.push(`![${b.caption}](${b.file})\n\n*${b.caption}*`);
        break;
    }
  }
  return out.join('\n\n') + '\n';
}

/** Escape, then turn `code` and **bold** into HTML. */
function inline(text: string): string {
  return escapeXml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

const STYLE = `body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.92em}th,td{border:1px solid #ccc;padding:3px 8px}th{background:#f2f2f2}
td.r{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1.2em 0}figcaption{font-style:italic;font-size:0.9em}
code{background:#f4f4f4;padding:0 3px}`;

export function toHtml(blocks: Block[], title: string): string {
  const out: string[] = [
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title><style>${STYLE}</style></head><body>`,
  ];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`<h${b.level}>${inline(b.text)}</h${b.level}>`);
        break;
      case 'paragraph':
        out.push(`<p>${inline(b.text)}</p>`);
        break;
      case 'list':
        out.push(`<ul>${b.items.map((i) => `<li>${inline(i)}</li>`).join('')}</ul>`);
        break;
      case 'table':
        out.push(
          `<table><thead><tr>${b.head.map((h) => `<th>${inline(h)}</th>`).join('')}</tr></thead><tbody>` +
            b.rows
              .map((r) => `<tr>${r.map((c, i) => `<td${b.align?.[i] === 'right' ? ' class="r"' : ''}>${inline(c)}</td>`).join('')}</tr>`)
              .join('') +
            '</tbody></table>',
        );
        break;
      case 'figure':
        out.push(`<figure>${b.svg}<figcaption>${inline(b.caption)}</figcaption></figure>`);
        break;
    }
  }
  out.push('</body></html>\n');
  return out.join('\n');
}

/** Write `<name>.md`, `<name>.html` and every figure's .svg file into dir. */
export function writeDocument(dir: string, name: string, title: string, blocks: Block[]) {
  for (const b of blocks) if (b.kind === 'figure') writeFileAtomic(join(dir, b.file), b.svg + '\n');
  writeFileAtomic(join(dir, `${name}.md`), toMarkdown(blocks));
  writeFileAtomic(join(dir, `${name}.html`), toHtml(blocks, title));
}
