/**
 * bench/harness.ts: timeGpuRoundRobin warms every run up, then interleaves the repetitions
 * (round 1 of every run, then round 2, ...), and reports one timing per run with its samples;
 * the rows carry the median and the fastest run. Checked by recording the call order of runs that
 * do nothing on the GPU (no timing is asserted).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu } from '../helpers/gpu.ts';
import { timeGpuRoundRobin, timeGpuOneSubmission, row } from '../../bench/harness.ts';
import { runtime } from '../../engine/runtime.ts';
import { Tensor } from '../../engine/tensor.ts';
import { relu } from '../../engine/ops/relu.ts';

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

test('timeGpuOneSubmission: warm-ups waited for, then every repetition recorded before one submission and one wait; outputs disposed', async () => {
  const rt = runtime();
  const x = Tensor.from(new Float32Array(1024).fill(-1), [1024]);
  const outs: Tensor[] = [];
  let syncsDuringReps = 0;
  const run = () => {
    // Nothing recorded so far may have been submitted inside the timed stretch: the runtime
    // submits only on a sync, a read or a full batch.
    syncsDuringReps += outs.length > 2 && !rt.hasPending ? 1 : 0;
    const y = relu(x);
    outs.push(y);
    return y;
  };
  const submits0 = rt.submits;
  const t = await timeGpuOneSubmission(run, 5, 2);
  assert.is(outs.length, 7, '2 warm-ups + 5 repetitions');
  assert.is(t.reps, 5);
  assert.is(t.submits, 1, 'the 5 repetitions went in one submission');
  assert.is(syncsDuringReps, 0);
  assert.ok(rt.submits - submits0 >= 3, 'each warm-up was submitted and waited for on its own');
  assert.ok(t.ms > 0);
  for (const y of outs) assert.throws(() => y.buffer, /used after dispose/, 'every output disposed');
  x.dispose();
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
