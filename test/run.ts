/**
 * Test runner: runs every test/**\/*.test.ts file with uvu on the default adapter (RBD_ADAPTER,
 * else auto: on a machine without a GPU that is Vulkan lavapipe), then once more on the OpenGL
 * ES compatibility adapter every kernel test (test/ops/, test/optim/: each kernel against its
 * reference, and test/ops/variants.test.ts every variant of the variant tables this adapter can
 * run) and the other files marked `// @smoke-gl`, and the files marked `// @browser` (the web page
 * in headless Chromium: its SwiftShader WebGPU adapter) as a third group, so "any adapter" is tested.
 * Ends with the line `N passed, N failed, N skipped`.
 *
 * Usage: npm test [-- <substring>...]   (only files whose path contains a substring)
 *        RBD_TEST_GL=0 npm test         (skip the GL pass; util/env.ts lists every RBD_* variable)
 *        RBD_TEST_BROWSER=0 npm test    (skip the browser group)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { env as rbdEnv, debug } from '../util/env.ts';
import { DawnNoticeFilter } from '../cli/dawn_notices.ts';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'test');

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function runGroup(title: string, files: string[], env: Record<string, string>): Promise<Counts> {
  return new Promise((resolve) => {
    console.log(`\n=== ${title}: ${files.length} file(s) ===`);
    const child = spawn(process.execPath, ['--import', 'tsx', join(testDir, 'helpers', 'run-group.ts'), ...files], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      process.stdout.write(d);
      text += d;
    });
    // Dawn's limit notices on stderr are not test output (cli/dawn_notices.ts); RBD_DEBUG=dawn keeps them.
    const stderr = debug('dawn') ? null : new DawnNoticeFilter((t) => process.stderr.write(t));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr ? stderr.write(d) : process.stderr.write(d)));
    child.on('close', (code, signal) => {
      stderr?.end();
      const plain = strip(text);
      const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? NaN);
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      if (Number.isNaN(total)) {
        console.log(`\n${title}: the test process ended before reporting (exit ${code}, signal ${signal}); counted as 1 failure`);
        resolve({ passed: 0, failed: 1, skipped: 0 });
        return;
      }
      const failed = Math.max(total - passed, code === 0 ? 0 : 1);
      resolve({ passed, failed, skipped: skipped || 0 });
    });
  });
}

const filters = process.argv.slice(2);
const matching = findTests(testDir).filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)));
const marked = (f: string, mark: string) => readFileSync(f, 'utf8').slice(0, 400).includes(mark);
const browser = matching.filter((f) => marked(f, '@browser'));
const all = matching.filter((f) => !browser.includes(f));
const KERNEL_TESTS = ['test/ops/', 'test/optim/'];
const smoke = all.filter((f) => KERNEL_TESTS.some((d) => relative(root, f).startsWith(d)) || marked(f, '@smoke-gl'));

const totals: Counts = { passed: 0, failed: 0, skipped: 0 };
const add = (c: Counts) => {
  totals.passed += c.passed;
  totals.failed += c.failed;
  totals.skipped += c.skipped;
};

if (matching.length === 0) {
  console.log(`no test files match ${filters.join(' ')}`);
  totals.failed = 1;
} else {
  if (all.length) add(await runGroup(`default adapter (${rbdEnv.adapter()})`, all, {}));
  if (smoke.length && rbdEnv.testGlPass()) {
    add(
      await runGroup('OpenGL ES compatibility adapter (kernel tests and smoke subset)', smoke, { RBD_ADAPTER: 'gl', RBD_TEST_PASS: 'gl' }),
    );
  }
  if (browser.length && rbdEnv.testBrowserPass()) {
    add(await runGroup('SwiftShader WebGPU in headless Chromium (the web page)', browser, {}));
  }
}
console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed ? 1 : 0);
