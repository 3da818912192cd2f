/**
 * The tuner (bench/tune.ts) and its cache (bench/tune_cache.ts):
 * - the cache key: the kernels' hash changes with any WGSL file's contents or name and ignores
 *   other files; an entry applies only to its exact key, a stale one (kernels or driver changed)
 *   or one for another adapter is ignored with a note, other adapters' entries are kept on write, a corrupt file is an
 *   error naming it; applying an entry puts its choices in force (engine/variant_choice.ts);
 * - runTune on a small model: every class the step meets is tuned, each choice is the rule's or
 *   was measured faster than it by the margin in the same run, and a candidate that computes
 *   wrong numbers fails validation, is reported and is never chosen;
 * - rbd tune then rbd info: the written entry is the one in force.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { gpu } from '../helpers/gpu.ts';
import { runtime } from '../../engine/runtime.ts';
import { Tensor } from '../../engine/tensor.ts';
import { scale } from '../../engine/ops/scale.ts';
import { MATMUL_CHOICE } from '../../engine/ops/matmul.ts';
import { choiceState, setTunedChoices, chooseWithSource, type Candidate } from '../../engine/variant_choice.ts';
import {
  kernelsHash,
  tuneKey,
  readTuneCache,
  findTuneEntry,
  writeTuneEntry,
  applyTuneCache,
  type TuneEntry,
} from '../../bench/tune_cache.ts';
import { runTune } from '../../bench/tune.ts';
import { presetArch } from '../../models/arch.ts';
import { magInputs } from '../../bench/flops.ts';
import { requireMag } from '../../data/mag.ts';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'rbd-tune-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
await gpu();

test("kernelsHash: changes with a WGSL file's contents or name, ignores other files", () => {
  const dir = join(tmp, 'kernels');
  mkdirSync(join(dir, 'gemm'), { recursive: true });
  writeFileSync(join(dir, 'gemm', 'a.wgsl'), 'fn a() {}\n');
  writeFileSync(join(dir, 'b.wgsl'), 'fn b() {}\n');
  const h0 = kernelsHash(dir);
  assert.match(h0, /^[0-9a-f]{64}$/);
  writeFileSync(join(dir, 'notes.txt'), 'not a kernel');
  assert.is(kernelsHash(dir), h0, 'non-WGSL files do not count');
  writeFileSync(join(dir, 'gemm', 'a.wgsl'), 'fn a() { }\n');
  const h1 = kernelsHash(dir);
  assert.is.not(h1, h0, 'one changed byte changes the hash');
  rmSync(join(dir, 'b.wgsl'));
  writeFileSync(join(dir, 'c.wgsl'), 'fn b() {}\n');
  assert.is.not(kernelsHash(dir), h1, 'a renamed file changes the hash');
  assert.match(kernelsHash(), /^[0-9a-f]{64}$/);
});

function entry(key: TuneEntry['key'], choices: TuneEntry['choices']): TuneEntry {
  return { key, date: '2026-01-01T00:00:00.000Z', commandLine: 'test', settings: {}, choices, report: [] };
}

test('the cache: exact key applies, stale entries are noted and ignored, other adapters kept, corrupt files named', () => {
  const path = join(tmp, 'cache', 'tune.json');
  const key = tuneKey(runtime().gpu.adapter);
  assert.ok(key.kernelsHash === kernelsHash() && key.backend === runtime().gpu.adapter.backend);
  const other = { ...key, description: 'Some Other GPU', device: 'other-driver' };
  writeTuneEntry(path, entry(other, { matmul: { x: 'invocation-wg32' } }));
  writeTuneEntry(path, entry({ ...key, kernelsHash: '0'.repeat(64) }, { matmul: { y: 'invocation-wg64' } }));
  let file = readTuneCache(path)!;
  assert.is(file.entries.length, 2);
  const stale = findTuneEntry(file, key, path);
  assert.is(stale.entry, null);
  assert.match(stale.note!, /entry for this adapter is stale \(the kernels changed\); rules choose/);
  const third = findTuneEntry(file, { ...key, description: 'A Third GPU' }, path);
  assert.is(third.entry, null);
  assert.match(third.note!, /has entries only for other adapters \(.*Some Other GPU.*\); rules choose/);
  // Rewriting this adapter's entry replaces the stale one and keeps the other adapter's.
  writeTuneEntry(path, entry(key, { matmul: { z: 'invocation-wgfit' } }));
  file = readTuneCache(path)!;
  assert.equal(file.entries.map((e) => e.key.description).sort(), [key.description, 'Some Other GPU'].sort());
  assert.equal(findTuneEntry(file, key, path).entry?.choices, { matmul: { z: 'invocation-wgfit' } });
  // A newer driver makes it stale too, and says so.
  assert.match(findTuneEntry(file, { ...key, device: key.device + '-new' }, path).note!, /the driver \(device\) changed/);
  try {
    const s = applyTuneCache(runtime().gpu.adapter, path);
    assert.ok(s.entry && s.note === null);
    assert.equal(choiceState().mode, 'tuned');
    assert.is(choiceState().source, path);
  } finally {
    setTunedChoices(null);
  }
  writeFileSync(path, '{ not json');
  assert.throws(
    () => readTuneCache(path),
    (e: Error) => e.message.includes(path) && /not valid JSON/.test(e.message),
  );
  writeFileSync(path, JSON.stringify({ version: 99, entries: [] }));
  assert.throws(() => readTuneCache(path), /not a version-1 tune cache/);
  assert.is(readTuneCache(join(tmp, 'absent.json')), null);
});

test('runTune: every class the step meets, each choice the rule or measured faster; a wrong candidate fails validation and is never chosen', async () => {
  // A candidate that computes 2 * (a b): it must fail the reference check.
  const rule = MATMUL_CHOICE.byName.get(MATMUL_CHOICE.rule({ M: 1, N: 1, K: 1 }))!;
  type L = typeof rule.launch;
  const broken: Candidate<{ M: number; N: number; K: number }, L> = {
    name: 'broken-doubles',
    launch: (a, b, bias, d) => {
      const c = rule.launch(a, b, bias, d);
      const twice = scale(c, 2);
      c.dispose();
      return twice as Tensor;
    },
  };
  MATMUL_CHOICE.candidates.push(broken);
  MATMUL_CHOICE.byName.set(broken.name, broken);
  const margin = 0.03;
  try {
    const inputs = magInputs([requireMag('10x', '--mags'), requireMag('5x', '--mags')], 32);
    const r = await runTune({ arch: presetArch('rbd'), inputs, batch: 2, reps: 2, warmup: 1, seed: 3, margin, only: 'matmul' });
    assert.ok(r.report.length >= 1, 'the head is a GEMM: at least one matmul class');
    for (const row of r.report) {
      assert.is(row.op, 'matmul');
      assert.is(r.choices.matmul[row.class], row.chosen);
      assert.ok(row.chosen === row.rule || row.chosenMs < (1 - margin) * row.ruleMs, `${row.class}: ${row.chosen} vs rule ${row.rule}`);
      const b = row.measurements.find((m) => m.candidate === 'broken-doubles')!;
      assert.is(b.status, 'failed', `${row.class}: the broken candidate fails validation`);
      assert.match(b.detail!, /worst error .*x the allowed/);
      assert.is.not(row.chosen, 'broken-doubles');
      // Every sound candidate was measured: timed, or pruned after a first run over 1.5x the best
      // (how many get pruned depends on the machine's load, so only the first is sure to be timed).
      const sound = row.measurements.filter((m) => m.candidate !== 'broken-doubles');
      assert.ok(
        sound.length >= 2 && sound.every((m) => m.status === 'timed' || m.status === 'pruned'),
        `${row.class}: the sound candidates were measured (${sound.map((m) => `${m.candidate} ${m.status}`).join(', ')})`,
      );
      assert.ok(
        sound.some((m) => m.status === 'timed'),
        `${row.class}: at least one sound candidate was timed`,
      );
    }
  } finally {
    MATMUL_CHOICE.candidates.pop();
    MATMUL_CHOICE.byName.delete(broken.name);
  }
  assert.is(chooseWithSource(MATMUL_CHOICE, { M: 2, N: 3, K: 4 }).source, 'rule', 'runTune leaves no choices in force');
});

function rbd(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/rbd.ts'), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

test('rbd tune writes the entry for this adapter; rbd info then says the tuned choices are in force', async () => {
  const cache = join(tmp, 'cli', 'tune.json');
  const env = { RBD_TUNE_CACHE: cache };
  const before = await rbd(['info'], env);
  assert.is(before.code, 0, before.err);
  assert.match(before.out, /variant choices: rules \(no entry for this adapter in .*tune\.json; rbd tune writes one\)/);
  const tuned = await rbd(['tune', '--mags', '10x,5x', '--tile', '32', '--batch', '1', '--only', 'groupNorm.forward', '--reps', '1'], env);
  assert.is(tuned.code, 0, tuned.err);
  assert.match(tuned.out, /classes tuned in .* min; \d+ differ from the rules\. Wrote .*tune\.json/);
  const after = await rbd(['info', '--json'], env);
  const info = JSON.parse(after.out);
  assert.is(info.variantChoices.mode, 'tuned');
  assert.is(info.variantChoices.path, cache);
  assert.ok(Object.keys(info.variantChoices.choices['groupNorm.forward']).length >= 1);
});

test.run();
