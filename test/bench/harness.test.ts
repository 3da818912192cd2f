/**
 * bench/harness.ts: timeGpuRoundRobin warms every run up, then interleaves the repetitions
 * (round 1 of every run, then round 2, ...), and reports one timing per run with its samples;
 * the rows carry the median and the fastest run. Checked by recording the call order of runs that
 * do nothing on the GPU (no timing is asserted).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu } from '../helpers/gpu.ts';
import { timeGpuRoundRobin, row } from '../../bench/harness.ts';

test.before(async () => {
  await gpu();
});

test('timeGpuRoundRobin: warm-ups first, then repetitions interleaved; one timing per run', async () => {
  const calls: string[] = [];
  const runs = ['a', 'b', 'c'].map((name) => () => {
    calls.push(name);
  });
  const timings = await timeGpuRoundRobin(runs, 3, 2);
  assert.equal(calls, ['a', 'a', 'b', 'b', 'c', 'c', 'a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
  assert.is(timings.length, 3);
  for (const t of timings) {
    assert.is(t.samples.length, 3);
    assert.ok(t.samples.every((ms) => ms >= 0));
    assert.ok(t.ms >= Math.min(...t.samples) && t.ms <= Math.max(...t.samples));
  }
});

test('row: median rate from the median time, best rate from the fastest sample', () => {
  const r = row('k', 's', { ms: 4, samples: [4, 2, 8], cpuMs: 10 }, 8e6, 4e6);
  assert.is(r.gflops, 2); // 8e6 FLOP in 4 ms
  assert.is(r.bestMs, 2);
  assert.is(r.bestGflops, 4); // 8e6 FLOP in 2 ms
  assert.is(r.cpuGflops, 0.8); // 8e6 FLOP in 10 CPU-ms
  assert.is(r.gbps, 1); // 4e6 bytes in 4 ms
  assert.is(r.reps, 3);
});

test.run();
