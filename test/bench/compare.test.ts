/**
 * bench compare: ratios B/A on fixture files written here. B's numbers are A's times factors
 * chosen by the test, so every expected ratio is the factor itself; rows are listed in a
 * different order in B to prove matching by key, not position. No GPU needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareRuns, ratioOf } from '../../bench/compare.ts';
import { run } from '../../cli/commands/bench/compare.ts';

const A = {
  benchmark: 'bench speed',
  adapter: { name: 'adapter A', backend: 'vulkan' },
  git: { commit: 'aaaa' },
  batch: 2,
  rooflineGflops: 8,
  results: [
    { mag: '10x', inputPx: 65536, trainImagesPerSec: 3, achievedGflops: 6.5, inferMs: { median: 10 } },
    { mag: '5x', inputPx: 16384, trainImagesPerSec: 5, achievedGflops: 4 },
    { mag: '2.5x', inputPx: 4096, trainImagesPerSec: 6, achievedGflops: 0 },
  ],
};
// factors: roofline x1.5; 10x images/s x2, GFLOP/s x0.25; 5x images/s x3; 2.5x: 0 -> 0 and 0 -> 2.
const B = {
  benchmark: 'bench speed',
  adapter: { name: 'adapter B', backend: 'opengles' },
  git: { commit: 'bbbb' },
  batch: 2,
  rooflineGflops: 8 * 1.5,
  results: [
    { mag: '2.5x', inputPx: 4096, trainImagesPerSec: 0, achievedGflops: 2 },
    { mag: '1.25x', inputPx: 1024, trainImagesPerSec: 9 },
    { mag: '10x', inputPx: 65536, trainImagesPerSec: 3 * 2, achievedGflops: 6.5 * 0.25 },
    { mag: '5x', inputPx: 16384, trainImagesPerSec: 5 * 3, achievedGflops: 4 },
  ],
};

async function rejects(p: Promise<unknown>, re: RegExp) {
  let err: Error | null = null;
  try {
    await p;
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err, `expected a rejection matching ${re}`);
  assert.match(err!.message, re);
}

const find = (c: ReturnType<typeof compareRuns>, row: string, field: string) => {
  const r = c.ratios.find((x) => x.row === row && x.field === field);
  if (!r) throw new Error(`no ratio for ${row} ${field}`);
  return r;
};

test('ratioOf: b/a; 0/0 is 1; x/0 is null (not infinite)', () => {
  assert.is(ratioOf(4, 6), 1.5);
  assert.is(ratioOf(0, 0), 1);
  assert.is(ratioOf(0, 2), null);
});

test('compareRuns: rows matched by mag, ratios B/A equal the fixture factors', () => {
  const c = compareRuns(A, B);
  assert.is(find(c, '(run)', 'rooflineGflops').ratio, 1.5);
  assert.is(find(c, '(run)', 'batch').ratio, 1);
  assert.is(find(c, '10x', 'trainImagesPerSec').ratio, 2);
  assert.is(find(c, '10x', 'achievedGflops').ratio, 0.25);
  assert.is(find(c, '5x', 'trainImagesPerSec').ratio, 3);
  assert.is(find(c, '5x', 'inputPx').ratio, 1);
  const z = find(c, '2.5x', 'trainImagesPerSec');
  assert.equal([z.a, z.b], [6, 0]);
  assert.is(z.ratio, 0);
  assert.is(find(c, '2.5x', 'achievedGflops').ratio, null, 'A is 0, B is not');
  assert.equal(c.onlyInA, []);
  assert.equal(c.onlyInB, ['1.25x']);
  assert.not.ok(
    c.ratios.some((r) => r.field === 'inferMs'),
    'nested objects are not compared as numbers',
  );
  const adapter = c.context.find((x) => x.field === 'adapter')!;
  assert.equal([adapter.a, adapter.b], ['adapter A', 'adapter B']);
});

test('compareRuns: kernel rows (bench kernels JSON) are keyed by kernel and shape', () => {
  const ka = {
    rows: [
      { kernel: 'conv2dForward', shape: '3x3 32ch', ms: 4 },
      { kernel: 'conv2dForward', shape: '3x3 64ch', ms: 2 },
    ],
  };
  const kb = {
    rows: [
      { kernel: 'conv2dForward', shape: '3x3 64ch', ms: 1 },
      { kernel: 'conv2dForward', shape: '3x3 32ch', ms: 5 },
    ],
  };
  const c = compareRuns(ka, kb);
  assert.is(find(c, 'conv2dForward 3x3 32ch', 'ms').ratio, 5 / 4);
  assert.is(find(c, 'conv2dForward 3x3 64ch', 'ms').ratio, 0.5);
});

test('bench compare A.json B.json --json: same ratios through the command; bad files are refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rbd-bench-compare-'));
  const log = console.log;
  try {
    const [fa, fb, out, bad] = ['a.json', 'b.json', 'cmp.json', 'bad.json'].map((f) => join(dir, f));
    writeFileSync(fa, JSON.stringify(A));
    writeFileSync(fb, JSON.stringify(B));
    writeFileSync(bad, 'not json');
    console.log = () => {};
    assert.is(await run([fa, fb, '--json', out]), 0);
    console.log = log;
    const j = JSON.parse(readFileSync(out, 'utf8'));
    const r = j.ratios.find((x: { row: string; field: string }) => x.row === '10x' && x.field === 'trainImagesPerSec');
    assert.is(r.ratio, 2);
    assert.equal(j.onlyInB, ['1.25x']);
    await rejects(run([fa]), /exactly two JSON files/);
    await rejects(run([fa, bad]), /bad\.json' is not a benchmark JSON file/);
    await rejects(run([fa, join(dir, 'missing.json')]), /cannot read/);
  } finally {
    console.log = log;
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
