/**
 * rbd web: --out writes a self-contained site (the page refers to nothing outside it; the
 * bundle carries every kernels/**\/*.wgsl); --serve serves it on localhost; bad flags say what to do.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const rbd = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/rbd.ts'), ...args], { encoding: 'utf8', cwd: ROOT });

function wgslFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? wgslFiles(p) : n.endsWith('.wgsl') ? [p] : [];
  });
}

test('rbd web --out DIR: index.html and one script, no outside references, every kernel bundled', () => {
  const out = mkdtempSync(join(tmpdir(), 'rbd-web-cli-'));
  try {
    const r = rbd(['web', '--out', out]);
    assert.is(r.status, 0, r.stderr);
    assert.equal(readdirSync(out).sort(), ['index.html', 'rbd-web.js', 'rbd-web.js.map']);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(refs, ['./rbd-web.js']);
    const js = readFileSync(join(out, 'rbd-web.js'), 'utf8');
    assert.not.match(js, /\bimport\s*\(?\s*["'](?:https?:)?\/\//, 'no import from another origin');
    assert.not.match(js, /^\s*(?:import|export)\b[^;]*\bfrom\s*["'](?!\.)/m, 'no bare module import left for the browser to resolve');
    // Each WGSL file is in the bundle under its path relative to kernels/ (the KernelSpec.file key).
    for (const f of wgslFiles(join(ROOT, 'kernels'))) {
      const key = relative(join(ROOT, 'kernels'), f).split(sep).join('/');
      assert.ok(js.includes(JSON.stringify(key)), `bundle has ${key}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('rbd web --serve --port 0: serves the page on localhost', async () => {
  const out = mkdtempSync(join(tmpdir(), 'rbd-web-serve-'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/rbd.ts'), 'web', '--serve', '--port', '0', '--out', out], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const url = await new Promise<string>((ok, fail) => {
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        text += d;
        const m = /serving .* at (http:\/\/localhost:\d+\/)/.exec(text);
        if (m) ok(m[1]);
      });
      child.on('exit', (code) => fail(new Error(`rbd web --serve exited ${code}: ${text}`)));
    });
    const page = await fetch(url);
    assert.is(page.status, 200);
    assert.match(await page.text(), /<pre id="rbd-results">/);
    const script = await fetch(url + 'rbd-web.js');
    assert.is(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.is((await fetch(url + '../package.json')).status, 404);
  } finally {
    child.kill();
    rmSync(out, { recursive: true, force: true });
  }
});

test('rbd web without --out or --serve, or --port without --serve: usage errors naming the remedy', () => {
  const a = rbd(['web']);
  assert.is(a.status, 2, 'usage errors exit 2');
  assert.match(a.stderr, /rbd web: give --out DIR to write the site, or --serve to serve it/);
  const b = rbd(['web', '--out', '/tmp/x', '--port', '9']);
  assert.match(b.stderr, /--port needs --serve/);
  assert.is(b.status, 2);
});

test.run();
