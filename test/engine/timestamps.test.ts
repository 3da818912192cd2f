/**
 * Honest GPU timestamps: Dawn's 'timestamp_quantization' toggle is off in Node
 * (engine/platform/node.ts). With it on, Dawn rounds every timestamp down to a multiple of
 * 65536 ns (measured on lavapipe), so every dispatch's duration in a profile is a multiple of
 * it, mostly 0 or 65.5 us for small dispatches. Here 24 dispatches of different sizes are
 * profiled and their begin timestamps must not all be multiples of that quantum (with
 * quantization all are; without, the chance that 24 independent times all are is 2^-384).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { relu } from '../../engine/ops/relu.ts';
import { Profiler } from '../../engine/profiler.ts';

const QUANTUM_US = 65.536;

test('profiled dispatch times are not quantized to 65.536 us', async () => {
  const rt = await gpu();
  if (!rt.gpu.caps.timestampQuery) {
    console.log('    (no timestamp-query on this adapter: nothing to check)');
    return;
  }
  const inputs = Array.from({ length: 24 }, (_, i) => Tensor.from(new Float32Array(64 * (i + 1) * 97).fill(1), [64 * (i + 1) * 97]));
  const p = new Profiler(rt);
  p.attach();
  tidy(() => inputs.map((x) => relu(x)));
  const r = await p.finish();
  inputs.forEach((x) => x.dispose());
  assert.is(r.clock, 'timestamp-query');
  assert.is(r.dispatches.length, 24);
  const offGrid = r.dispatches.filter((d) => {
    const q = (d.startUs! + d.durUs!) / QUANTUM_US;
    return Math.abs(q - Math.round(q)) > 1e-3;
  });
  console.log(`    durations (us): ${r.dispatches.map((d) => d.durUs!.toFixed(1)).join(' ')}`);
  assert.ok(offGrid.length > 0, 'every end time lies on the 65.536 us grid: timestamps are quantized');
});

test.run();
