/**
 * scripts/device-check.sh without a hardware GPU (this machine, CI): it must stop at once with
 * exit code 1 and say what it found, before running anything long; and where an NVIDIA driver is
 * installed without a Vulkan manifest, it must write one and point the Vulkan loader at it.
 * (The full check, on a real GPU, runs the suite and two benchmarks: it cannot run here.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const script = join(root, 'scripts', 'device-check.sh');
const tmp = mkdtempSync(join(tmpdir(), 'rbd-device-check-'));

function check(out: string, env: Record<string, string> = {}) {
  const started = Date.now();
  const r = spawnSync('bash', [script, out], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { ...r, seconds: (Date.now() - started) / 1000 };
}

/** The adapters `rbd info --json` found, as the check recorded them. */
function adapters(out: string): { name: string; software: boolean }[] {
  return JSON.parse(readFileSync(join(out, 'info.json'), 'utf8')).adapters;
}

test('no hardware adapter: exit 1 naming the adapters found, nothing long run, the record kept in OUT_DIR', () => {
  const out = join(tmp, 'plain');
  const r = check(out);
  const found = adapters(out);
  if (found.some((a) => !a.software)) {
    console.log(
      `    skipped: this machine has a hardware adapter (${found
        .filter((a) => !a.software)
        .map((a) => a.name)
        .join(', ')})`,
    );
    return;
  }
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /device-check: no hardware WebGPU adapter on this machine \(adapters found: /);
  for (const a of found) assert.ok(r.stderr.includes(a.name), `the message names ${a.name}`);
  assert.match(r.stderr, /Vulkan loader: /);
  assert.ok(!existsSync(join(out, 'test.log')) && !existsSync(join(out, 'speed.json')), 'no suite or benchmark was started');
  assert.match(readFileSync(join(out, 'summary.txt'), 'utf8'), /no hardware WebGPU adapter/);
  assert.match(readFileSync(join(out, 'environment.txt'), 'utf8'), /Vulkan ICD manifests: /);
});

test('an NVIDIA driver without a Vulkan manifest: the check writes one for it and points the loader at it', () => {
  const sysroot = join(tmp, 'sysroot');
  const lib = join(sysroot, 'usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0');
  mkdirSync(dirname(lib), { recursive: true });
  writeFileSync(lib, ''); // not a real driver: the loader fails to open it, so still no hardware adapter
  mkdirSync(join(sysroot, 'usr/share/vulkan/icd.d'), { recursive: true });
  const out = join(tmp, 'nvidia');
  const r = check(out, { DEVICE_CHECK_SYSROOT: sysroot });
  const icd = JSON.parse(readFileSync(join(out, 'nvidia_icd.json'), 'utf8'));
  assert.is(icd.ICD.library_path, lib);
  assert.match(r.stderr, /NVIDIA driver .*libGLX_nvidia\.so\.0 has no Vulkan manifest; wrote .*nvidia_icd\.json/);
  assert.is(r.status, 1, 'and still no hardware adapter here');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
