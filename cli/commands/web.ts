/**
 * rbd web: the engine and its benchmark as a static web page (web/site.ts builds it; the page
 * is web/page/). `--out DIR` writes the site; `--serve` builds it into a temporary folder (or
 * --out) and serves it on localhost until interrupted.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseFlags, numberFlag } from '../flags.ts';
import { UsageError } from '../usage_error.ts';

export const help = `usage: rbd web --out DIR
       rbd web --serve [--port 8080] [--out DIR]

Builds a self-contained static site (index.html + one script; the WGSL kernels and the kernel
tests are bundled in; nothing is fetched from a network at run time) that runs the engine in the
browser on its WebGPU adapter: shows the adapter (vendor, architecture, features, limits), runs
the kernel conformance suite (every kernel's tests against the float64 references), runs
bench flops and bench speed per magnification, and downloads the results as JSON in the schema of
'rbd bench speed --json' (so 'rbd bench compare node.json browser.json' works).

Open it with ?auto=conformance|bench|all&quick=1 to run without clicks: the title becomes
'rbd: done' or 'rbd: failed' and <pre id="rbd-results"> holds {adapter, conformance, bench}.

  --out DIR     write the site into DIR (deploy it to any static host; WebGPU needs https or localhost)
  --serve       serve the site on http://localhost:PORT/ (a secure context) until Ctrl-C
  --port N      port for --serve (default 8080; 0 picks a free one)
`;

export async function run(argv: string[]): Promise<number> {
  const cmd = 'web';
  const { values } = parseFlags(cmd, argv, { out: { type: 'string' }, serve: { type: 'boolean' }, port: { type: 'string' } });
  if (!values.out && !values.serve) throw new UsageError(cmd, 'give --out DIR to write the site, or --serve to serve it');
  const port = numberFlag(cmd, 'port', values.port, 8080, { min: 0, max: 65535, integer: true });
  if (values.port !== undefined && !values.serve) throw new UsageError(cmd, '--port needs --serve');
  // esbuild is a development dependency: loaded here only, with a remedy when it is absent.
  let site: typeof import('../../web/site.ts');
  try {
    site = await import('../../web/site.ts');
  } catch (e) {
    throw new Error(
      `rbd web: cannot load the page builder (${(e as Error).message}); run 'npm ci' in the project (esbuild is a development dependency)`,
    );
  }
  const out = resolve(values.out ?? mkdtempSync(join(tmpdir(), 'rbd-web-')));
  const files = await site.buildSite(out);
  console.log(`wrote ${files.map((f) => join(out, f)).join(', ')}`);
  if (!values.serve) return 0;
  const { url } = await site.serveDir(out, port);
  console.log(`serving ${out} at ${url} (Ctrl-C to stop); unattended: ${url}?auto=all&quick=1`);
  await new Promise(() => {});
  return 0;
}
