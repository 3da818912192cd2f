/**
 * The static site of `rbd web`: web/page/main.ts bundled by esbuild for browsers, with the
 * engine, the kernels (every kernels/**\/*.wgsl inlined as `rbd:kernels`), the kernel tests
 * the page runs as its conformance suite (`rbd:conformance-files`), and index.html. Nothing is
 * fetched at run time from anywhere but the site itself.
 *
 * The browser bundle resolves `#platform` to engine/platform/browser.ts (the `browser`
 * condition), 'uvu' to conformance/uvu.ts, and Node's built-in modules (reachable through the
 * benchmark modules' CLI paths: writing files, the data loader) to stubs that throw naming the
 * module if a browser code path ever calls them.
 */
import { build, type Plugin } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every file under `dir` whose name ends with `suffix`, as paths relative to `dir` with '/'. */
function filesUnder(dir: string, suffix: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(suffix)) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out;
}

/** The kernel test files the page runs as its conformance suite. */
export function conformanceFiles(): string[] {
  return ['test/ops', 'test/optim'].flatMap((d) => filesUnder(join(ROOT, d), '.test.ts').map((f) => `${d}/${f}`));
}

const browserPlugin: Plugin = {
  name: 'rbd-browser',
  setup(b) {
    // kernels/**/*.wgsl -> { 'relu.wgsl': '...', 'gemm/tile.wgsl': '...' }, keyed like KernelSpec.file.
    b.onResolve({ filter: /^rbd:kernels$/ }, () => ({ path: 'kernels', namespace: 'rbd-kernels' }));
    b.onLoad({ filter: /.*/, namespace: 'rbd-kernels' }, () => {
      const dir = join(ROOT, 'kernels');
      const files = filesUnder(dir, '.wgsl');
      const map = Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
      return { contents: `export default ${JSON.stringify(map)};`, loader: 'js', watchFiles: files.map((f) => join(dir, f)) };
    });
    b.onResolve({ filter: /^rbd:conformance-files$/ }, () => ({ path: 'conformance-files', namespace: 'rbd-conformance' }));
    b.onLoad({ filter: /.*/, namespace: 'rbd-conformance' }, () => {
      const entries = conformanceFiles().map((f) => `{ file: ${JSON.stringify(f)}, load: () => import(${JSON.stringify(join(ROOT, f))}) }`);
      return { contents: `export default [\n${entries.join(',\n')}\n];`, loader: 'js', resolveDir: ROOT };
    });
    b.onResolve({ filter: /^uvu$/ }, () => ({ path: join(ROOT, 'conformance', 'uvu.ts') }));
    // Node built-ins and native packages: a module whose every export throws when used.
    b.onResolve({ filter: /^(node:.*|sharp|webgpu)$/ }, (a) => ({ path: a.path, namespace: 'rbd-node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'rbd-node-only' }, (a) => ({
      loader: 'js',
      contents: `const fail = (what) => { throw new Error(${JSON.stringify(a.path)} + ': ' + String(what) + ' is not available in a browser'); };
module.exports = new Proxy({}, { get: (_t, k) => (k === '__esModule' ? false : k === 'default' ? module.exports : typeof k === 'symbol' ? undefined : (...args) => fail(k)) });`,
    }));
  },
};

function gitState(): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** Write the site into `outDir` (created if needed). Returns the files written, relative to it. */
export async function buildSite(outDir: string, opts: { minify?: boolean } = {}): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'web', 'page', 'main.ts')],
    outfile: join(outDir, 'rbd-web.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    minify: opts.minify ?? false,
    plugins: [browserPlugin],
    define: { RBD_BUILD_GIT: JSON.stringify(gitState()) },
    logLevel: 'warning',
  });
  copyFileSync(join(ROOT, 'web', 'page', 'index.html'), join(outDir, 'index.html'));
  return ['index.html', 'rbd-web.js', 'rbd-web.js.map'];
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/**
 * Serve `dir` on 127.0.0.1:`port` (0: any free port). localhost is a secure context, which
 * WebGPU requires (navigator.gpu is missing on plain http from another host).
 */
export function serveDir(dir: string, port: number): Promise<{ server: Server; url: string }> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = resolve(root, '.' + (path.endsWith('/') ? path + 'index.html' : path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const a = server.address();
      const p = typeof a === 'object' && a ? a.port : port;
      ok({ server, url: `http://localhost:${p}/` });
    });
  });
}
