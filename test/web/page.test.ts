// @browser
/**
 * The web page (rbd web) in headless Chromium on its SwiftShader WebGPU adapter: the kernel
 * conformance suite passes (every test file of test/ops and test/optim, run by the page), the
 * quick benchmark completes at every magnification and its JSON compares against a Node run with
 * bench/compare.ts; a screenshot of the finished page goes to test-artifacts/web/ (or
 * $RBD_TEST_ARTIFACTS/web/). Then the bad conditions: no WebGPU (an insecure origin), no adapter
 * (WebGPU not enabled), device lost mid-run (results so far kept), a limit too small for the
 * benchmark (cases skipped with the reason).
 *
 * Needs Debian's chromium at /usr/bin/chromium (scripts/setup.sh installs it; RBD_CHROMIUM
 * overrides the path). test/run.ts runs it as its own group; RBD_TEST_BROWSER=0 skips it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Server } from 'node:http';
import type { Page } from 'playwright-core';
import { buildSite, serveDir, conformanceFiles } from '../../web/site.ts';
import { launchChromium, chromiumAvailable, CHROMIUM } from './chromium.ts';
import { env } from '../../util/env.ts';
import { gpu } from '../helpers/gpu.ts';
import { speedRun } from '../../bench/speed.ts';
import { magInputs, DEFAULT_MAGS } from '../../bench/flops.ts';
import { presetArch } from '../../models/arch.ts';
import { requireMag } from '../../data/mag.ts';
import { compareRuns } from '../../bench/compare.ts';

const enabled = env.testBrowserPass();
const ARTIFACTS = resolve(env.testArtifacts() ?? join(new URL('../..', import.meta.url).pathname, 'test-artifacts'), 'web');

let site = '';
let server: Server | null = null;
let url = '';

type Results = {
  adapter: Record<string, unknown> | null;
  conformance: { name: string; worstError: number; tolerance: { atol: number; rtol: number }; pass: boolean; worstRatio: number }[];
  bench: Record<string, unknown> | null;
  errors: string[];
  deviceLost: string | null;
};

/** Open `query` and wait for the page to say it is finished; its title and #rbd-results. */
async function finished(page: Page, query: string, timeoutMs: number): Promise<{ title: string; results: Results }> {
  await page.goto(url + query);
  await page.waitForFunction("document.title === 'rbd: done' || document.title === 'rbd: failed'", null, { timeout: timeoutMs });
  return { title: await page.title(), results: JSON.parse((await page.locator('#rbd-results').textContent()) ?? 'null') };
}

test.before(async () => {
  if (!enabled) return;
  if (!chromiumAvailable())
    throw new Error(
      `no Chromium at ${CHROMIUM}: run 'bash scripts/setup.sh' (installs Debian's chromium), set RBD_CHROMIUM, or RBD_TEST_BROWSER=0 to skip the browser tests`,
    );
  site = mkdtempSync(join(tmpdir(), 'rbd-web-test-'));
  await buildSite(site);
  ({ server, url } = await serveDir(site, 0));
});

test.after(() => {
  server?.close();
  if (site) rmSync(site, { recursive: true, force: true });
});

test('page on SwiftShader: conformance of every kernel test file passes, quick benchmark completes, JSON compares with Node', async () => {
  if (!enabled) return;
  const { browser, close } = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const { title, results } = await finished(page, '?auto=all&quick=1', 540_000);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'page-swiftshader.png'), fullPage: true });
    assert.equal(errors, [], 'no uncaught page errors');
    assert.equal(results.errors, []);
    assert.is(title, 'rbd: done');
    assert.is(results.adapter?.architecture, 'swiftshader');
    // Every kernel test file contributed, and every test passed within its tolerance.
    const files = new Set(results.conformance.map((c) => c.name.split(':')[0]));
    for (const f of conformanceFiles()) {
      const stem = f.replace(/^.*\//, '').replace(/\.test\.ts$/, '');
      if (stem === 'reshape') continue; // reshape moves no data: no comparison against a reference
      assert.ok(files.has(stem), `conformance has results from ${f}`);
    }
    const failed = results.conformance.filter((c) => !c.pass);
    assert.equal(
      failed.map((c) => c.name),
      [],
      'every conformance test passes',
    );
    for (const c of results.conformance) assert.ok(c.worstRatio <= 1 && c.worstError >= 0, `${c.name}: worst error within tolerance`);
    // The benchmark: every magnification measured, in the `rbd bench speed --json` schema.
    const bench = results.bench!;
    assert.is(bench.benchmark, 'bench speed');
    const rows = bench.results as {
      mag: string;
      trainImagesPerSec: number;
      inferImagesPerSec: number;
      trainDispatches: number;
      trainRecordUsPerDispatch: number;
    }[];
    assert.equal(
      rows.map((r) => r.mag),
      DEFAULT_MAGS.split(','),
    );
    for (const r of rows)
      assert.ok(
        r.trainImagesPerSec > 0 && r.inferImagesPerSec > 0 && r.trainDispatches > 0 && r.trainRecordUsPerDispatch > 0,
        `${r.mag}: measured`,
      );
    // The download button gives the `rbd bench speed --json` object.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const downloaded = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    assert.is(downloaded.benchmark, 'bench speed');
    assert.equal(
      downloaded.results.map((r: { mag: string }) => r.mag),
      DEFAULT_MAGS.split(','),
    );
    // The same benchmark in Node (lavapipe), then `rbd bench compare`'s comparison of the two.
    await gpu();
    const arch = presetArch('rbd');
    const node = await speedRun({
      arch,
      archName: 'rbd',
      inputs: magInputs(
        DEFAULT_MAGS.split(',').map((m) => requireMag(m, 'test')),
        32,
      ),
      tile: 32,
      batch: 1,
      reps: 1,
      warmup: 0,
      seed: 1,
      gemmSizes: [64],
    });
    const cmp = compareRuns(JSON.parse(JSON.stringify(node)), bench);
    for (const m of DEFAULT_MAGS.split(','))
      assert.ok(
        cmp.ratios.some((r) => r.row === m && r.field === 'trainImagesPerSec'),
        `compare pairs ${m}'s trainImagesPerSec`,
      );
    assert.ok(
      cmp.context.some((c) => c.field.startsWith('adapter') && c.a !== c.b),
      'compare names the two adapters',
    );
  } finally {
    await close();
  }
});

test('no WebGPU (an insecure origin hides navigator.gpu): clear message with how to enable it, title rbd: failed', async () => {
  if (!enabled) return;
  const { browser, close } = await launchChromium(['--host-resolver-rules=MAP rbd.invalid 127.0.0.1']);
  try {
    const page = await browser.newPage();
    await page.goto(`http://rbd.invalid:${new URL(url).port}/?auto=all&quick=1`);
    await page.waitForFunction("document.title === 'rbd: failed'", null, { timeout: 60_000 });
    const text = await page.locator('#adapter').innerText();
    assert.match(text, /No WebGPU: this page is not a secure context/);
    assert.match(text, /enable-unsafe-webgpu/);
    const results = JSON.parse((await page.locator('#rbd-results').textContent())!) as Results;
    assert.match(results.errors.join('\n'), /no WebGPU/);
  } finally {
    await close();
  }
});

test('adapter request refused (WebGPU not enabled in headless Chromium on Linux): says so, title rbd: failed', async () => {
  if (!enabled) return;
  const { browser, close } = await launchChromium([], ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader']);
  try {
    const page = await browser.newPage();
    const { title, results } = await finished(page, '?auto=all&quick=1', 60_000);
    assert.is(title, 'rbd: failed');
    assert.match(
      await page.locator('#adapter').innerText(),
      /The browser refused an adapter: navigator\.gpu\.requestAdapter\(\) returned no adapter/,
    );
    assert.match(results.errors.join('\n'), /adapter request refused/);
  } finally {
    await close();
  }
});

test('device lost mid-run: the results so far are kept and shown, title rbd: failed', async () => {
  if (!enabled) return;
  const { browser, close } = await launchChromium();
  try {
    const page = await browser.newPage();
    const { title, results } = await finished(page, '?auto=all&quick=1&loseDeviceAfter=3', 120_000);
    assert.is(title, 'rbd: failed');
    assert.ok(results.deviceLost, 'deviceLost recorded');
    assert.is(results.conformance.length, 3, 'the three results before the loss are kept');
    assert.ok(results.conformance.every((c) => c.pass));
    assert.is(results.bench, null, 'no benchmark on a lost device');
    assert.match(await page.locator('#messages').innerText(), /device was lost[\s\S]*results measured so far are kept/);
    assert.match(await page.locator('#conformance').innerText(), /3 tests/);
  } finally {
    await close();
  }
});

test('a limit smaller than the benchmark needs: the magnifications and GEMMs that exceed it are skipped with the reason', async () => {
  if (!enabled) return;
  const { browser, close } = await launchChromium();
  try {
    const page = await browser.newPage();
    // 48 KiB bindings: the model's 64x32x3x3 weights (72 KiB) and the roofline conv's input do not fit; a 64x64 GEMM does.
    const { title, results } = await finished(page, '?auto=bench&quick=1&limit.maxStorageBufferBindingSize=49152', 120_000);
    assert.is(title, 'rbd: done');
    const bench = results.bench!;
    const skipped = bench.skipped as { mag: string; reason: string }[];
    assert.equal(
      skipped.map((s) => s.mag),
      DEFAULT_MAGS.split(','),
    );
    for (const s of skipped) assert.match(s.reason, /maxStorageBufferBindingSize of 49152 bytes/);
    assert.ok((bench.roofline as { skipped: { kernel: string }[] }).skipped.some((s) => s.kernel === 'conv2d 3x3'));
    assert.equal(bench.results, []);
    assert.match(await page.locator('#bench').innerText(), /Skipped:[\s\S]*10x: tensor/);
  } finally {
    await close();
  }
});

test.run();
