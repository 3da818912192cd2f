/**
 * Device acquisition on each adapter present, overrides by env and flag, the no-adapter error.
 * The tests that name Mesa's software adapters (lavapipe, llvmpipe GL) skip, saying why, on a
 * machine that has none (a GPU machine without Mesa): they test how those are recognised.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { listAdapters, chooseAdapter, openGpu } from '../../engine/device.ts';

const root = new URL('../..', import.meta.url).pathname;

type Listed = { name: string; backend: string; adapter: { info: { device: string } } };
const isMesa = (a: Listed) => /llvmpipe|lavapipe/i.test(`${a.name} ${a.adapter.info.device}`);
/** Why the Mesa-specific tests cannot run on a machine with these adapters, or null if they can. */
function mesaSkipReason(adapters: Listed[]): string | null {
  return adapters.some(isMesa)
    ? null
    : `no Mesa software adapter here (adapters: ${adapters.map((a) => `${a.name} (${a.backend})`).join('; ') || 'none'}); scripts/setup.sh installs it`;
}
const present = await listAdapters();
const mesaReason = mesaSkipReason(present);
const glPresent = present.some((a) => a.backend === 'opengles');
/** A test that needs Mesa's adapters: skipped, with the reason printed, where there are none. */
function mesaTest(name: string, fn: () => void | Promise<void>) {
  if (mesaReason) {
    console.log(`  skip '${name}': ${mesaReason}`);
    test.skip(name, fn);
  } else test(name, fn);
}
function rbdInfo(args: string[], env: Record<string, string> = {}): { code: number; out: string } {
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'cli/rbd.ts', 'info', '--json', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
    return { code: 0, out };
  } catch (e) {
    const err = e as { status: number; stdout: Buffer };
    return { code: err.status, out: err.stdout.toString() };
  }
}

test('the Mesa tests skip, naming the adapters found, only where no Mesa adapter exists', () => {
  const gpu = (name: string, device: string, backend = 'vulkan'): Listed => ({ name, backend, adapter: { info: { device } } });
  assert.match(mesaSkipReason([gpu('NVIDIA H200', 'NVIDIA H200')])!, /no Mesa software adapter here \(adapters: NVIDIA H200 \(vulkan\)\)/);
  assert.match(mesaSkipReason([])!, /adapters: none/);
  assert.is(mesaSkipReason([gpu('NVIDIA H200', 'x'), gpu('llvmpipe (LLVM 15)', 'llvmpipe')]), null);
  // Dawn's GL adapter names llvmpipe only in info.device.
  assert.is(mesaSkipReason([gpu('Mesa', 'llvmpipe (LLVM 15.0.6, 256 bits)', 'opengles')]), null);
});

mesaTest('both software adapters are found (Vulkan core and GL compatibility)', async () => {
  const all = await listAdapters();
  assert.ok(
    all.some((a) => a.backend === 'vulkan' && a.featureLevel === 'core'),
    `no Vulkan core adapter among: ${all.map((a) => a.name).join('; ')}`,
  );
  assert.ok(
    all.some((a) => a.backend === 'opengles' && a.featureLevel === 'compatibility'),
    'no GL compatibility adapter',
  );
});

mesaTest('Mesa llvmpipe adapters are recognised as software, GL included (it names llvmpipe only in info.device)', async () => {
  const all = await listAdapters();
  const mesaSoftware = all.filter((e) => /llvmpipe/i.test(`${e.name} ${e.adapter.info.device}`));
  for (const a of mesaSoftware) assert.ok(a.isSoftware, `${a.name} (${a.backend}) runs on llvmpipe but is not marked software`);
  // On a machine without a GPU (CI), both the Vulkan and the GL adapter are llvmpipe.
  if (!all.some((e) => !/llvmpipe/i.test(`${e.name} ${e.adapter.info.device}`))) {
    assert.ok(
      mesaSoftware.some((e) => e.backend === 'opengles'),
      'expected the GL adapter to be llvmpipe here',
    );
  }
});

mesaTest('auto prefers a core adapter over a compatibility one', async () => {
  const all = await listAdapters();
  assert.is(chooseAdapter(all, 'auto')?.featureLevel, 'core');
  assert.is(chooseAdapter(all, 'gl')?.backend, 'opengles');
  assert.is(chooseAdapter(all, 'LLVMPIPE')?.name, all.find((a) => /llvmpipe/i.test(a.name))?.name);
});

for (const choice of ['vulkan', 'gl']) {
  (choice === 'gl' && !glPresent ? mesaTest : test)(`a device opens on --adapter ${choice} and runs with its own limits`, async () => {
    const g = await openGpu({ adapter: choice });
    assert.ok(g.limits.maxComputeInvocationsPerWorkgroup >= 128);
    assert.is(g.adapter.backend, choice === 'gl' ? 'opengles' : 'vulkan');
    g.device.destroy();
  });
}

mesaTest('RBD_ADAPTER and --adapter both select the adapter; the flag wins', () => {
  const byEnv = JSON.parse(rbdInfo([], { RBD_ADAPTER: 'gl' }).out);
  assert.match(byEnv.chosen, /opengles, compatibility/);
  const byFlag = JSON.parse(rbdInfo(['--adapter', 'vulkan'], { RBD_ADAPTER: 'gl' }).out);
  assert.match(byFlag.chosen, /vulkan, core/);
});

test('no matching adapter: one clear error naming what was tried and the remedy', async () => {
  let msg = '';
  try {
    await openGpu({ adapter: 'no-such-gpu-xyz' });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /no WebGPU adapter for --adapter\/RBD_ADAPTER='no-such-gpu-xyz'/);
  assert.match(msg, /tried: the default backend, Vulkan/);
  assert.match(msg, /scripts\/setup\.sh/);
  const r = rbdInfo(['--adapter', 'no-such-gpu-xyz']);
  assert.is(r.code, 1);
  assert.is(JSON.parse(r.out).chosen, null);
});

test.run();
