/**
 * bench speed: the JSON it writes has the documented fields (adapter name/backend,
 * rooflineGflops, results[] with mag, inputPx, forwardGflops, trainStepGflops,
 * inferImagesPerSec, trainImagesPerSec, achievedGflops) and the self-describing metadata, and
 * its derived numbers follow from its measured ones. A tiny ResNet on 32px tiles keeps it quick;
 * no test asserts how fast anything ran.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpu } from '../helpers/gpu.ts';
import { runtime } from '../../engine/runtime.ts';
import type { ResNetArch } from '../../models/arch.ts';
import { flopsRows } from '../../bench/flops.ts';
import { magsFlag } from '../../cli/flags.ts';
import { speedRun } from '../../bench/speed.ts';
import { profileStep } from '../../bench/profile.ts';
import { writeBenchReport } from '../../bench/report.ts';
import { writeJson } from '../../util/files.ts';

const tiny: ResNetArch = { planes: [4, 8], layers: [1, 1], norm: 'group', groups: 2, numClasses: 3, inChannels: 3 };

test('bench speed tiny ResNet tile 32 at 10x,5x,2.5x batch 1: JSON fields, meta, derived numbers', async () => {
  await gpu();
  const inputs = magsFlag('test', '10x,5x,2.5x', 32);
  const result = await speedRun({ arch: tiny, archName: 'tiny', inputs, tile: 32, batch: 1, reps: 2, warmup: 1, seed: 5, gemmSizes: [64] });
  const dir = mkdtempSync(join(tmpdir(), 'rbd-bench-speed-'));
  try {
    writeJson(join(dir, 'speed.json'), result);
    const j = JSON.parse(readFileSync(join(dir, 'speed.json'), 'utf8'));
    const rt = runtime();
    // Self-describing: adapter, versions, commit, seeds, command line, date.
    assert.is(j.adapter.name, rt.gpu.adapter.name);
    assert.is(j.adapter.backend, rt.gpu.adapter.backend);
    assert.is(j.adapter.featureLevel, rt.gpu.adapter.featureLevel);
    assert.ok(Array.isArray(j.adapter.features));
    assert.is(j.adapter.limits.maxStorageBufferBindingSize, rt.limits.maxStorageBufferBindingSize);
    assert.type(j.webgpuVersion, 'string');
    assert.is(j.precision, 'f32', 'the GEMM precision is recorded (default f32)');
    assert.is(j.nodeVersion, process.version);
    assert.ok('commit' in j.git && 'dirty' in j.git);
    assert.equal(j.seeds, { weights: 5, inputs: 5 });
    assert.type(j.commandLine, 'string');
    assert.ok(!Number.isNaN(Date.parse(j.date)));
    // The documented measurement fields.
    assert.type(j.rooflineGflops, 'number');
    assert.ok(j.rooflineGflops > 0 && j.roofline.copyGBps > 0);
    // Measured before and after the model; the ceiling is the better of the two.
    assert.is(j.rooflineMeasurements.length, 2);
    assert.is(j.rooflineGflops, Math.max(...j.rooflineMeasurements.map((m: { gemmGflops: number }) => m.gemmGflops)));
    assert.is(j.rooflineCopyGBps, Math.max(...j.rooflineMeasurements.map((m: { copyGBps: number }) => m.copyGBps)));
    assert.is(j.results.length, 3);
    const paired = j.pairedRooflineFraction;
    assert.is(
      paired.gemm,
      j.rooflineMeasurements[0].gemmGflops >= j.rooflineMeasurements[1].gemmGflops
        ? j.rooflineMeasurements[0].gemmShape
        : j.rooflineMeasurements[1].gemmShape,
    );
    for (const sp of [paired.wall, paired.cpu]) {
      assert.is(sp.samples.length, 2, 'one ratio per timed round');
      assert.ok(sp.min <= sp.median && sp.median <= sp.max);
    }
    const flops = flopsRows(tiny, inputs);
    // By hand, the 2.5x row (8x8 input, batch 1; conventions of models/flops.ts): stem 7x7/2 p3 ->
    // 4x4x4, 9408 MACs; max pool 3x3/2 p1 -> 2x2 (5 taps inside per axis: 4 maps * (25 - 4)
    // compares); layer_1 3x3 convs 576 MACs each; layer_2 stride 2 -> 1x1: 288 + 576 MACs,
    // downsample 32; norms 8 / 13 per element, relu and add 1, avgpool 8, fc 2*24 + 3.
    // Forward 18816 + 512 + 64 + 84 + 2608 (layer_1) + 2008 (layer_2) + 8 + 51 = 24151;
    // backward 18816 (no image gradient) + 832 + 64 + 16 + 5056 + 3912 + 8 + 99 = 28803.
    // The train step adds the teacher's forward at the top size (results[0]'s forward).
    assert.is(j.results[2].forwardGflops, 24151 / 1e9, 'forward FLOPs of the 8x8 input, by hand');
    assert.ok(
      Math.abs(j.results[2].trainStepGflops - j.results[0].forwardGflops - (24151 + 28803) / 1e9) < 1e-15,
      'train step = teacher forward + student forward + backward, by hand',
    );
    j.results.forEach((r: Record<string, any>, i: number) => {
      for (const k of [
        'mag',
        'inputPx',
        'forwardGflops',
        'trainStepGflops',
        'inferImagesPerSec',
        'trainImagesPerSec',
        'trainCachedImagesPerSec',
        'achievedGflops',
      ])
        assert.ok(k in r, `results[${i}].${k}`);
      assert.is(r.mag, inputs[i].mag);
      assert.is(r.inputPx, inputs[i].size[0] * inputs[i].size[1]);
      assert.is(r.forwardGflops, flops[i].forwardGflops, 'forward FLOPs from the counter');
      assert.is(r.trainStepGflops, flops[i].trainStepGflops, 'train-step FLOPs from the counter');
      // Derived from the medians: images/s = batch / s; GFLOP/s = GFLOPs per tile * batch / s.
      const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.abs(b), `${what}: ${a} vs ${b}`);
      close(r.trainImagesPerSec, 1 / (r.trainMs.median / 1000), 'trainImagesPerSec');
      close(r.trainCachedImagesPerSec, 1 / (r.trainCachedMs.median / 1000), 'trainCachedImagesPerSec');
      close(r.inferImagesPerSec, 1 / (r.inferMs.median / 1000), 'inferImagesPerSec');
      close(r.achievedGflops, r.trainStepGflops / (r.trainMs.median / 1000), 'achievedGflops');
      close(r.rooflineFraction, r.achievedGflops / j.rooflineGflops, 'rooflineFraction');
      close(r.achievedGflopsPerCpuSec, r.trainStepGflops / (r.trainCpuMs / 1000), 'achievedGflopsPerCpuSec');
      close(r.rooflineFractionCpu, r.achievedGflopsPerCpuSec / j.rooflineCpuGflops, 'rooflineFractionCpu');
      close(r.trainSpeedup, j.results[0].trainMs.median / r.trainMs.median, 'trainSpeedup');
      assert.is(r.trainMs.samples.length, 2);
      assert.ok(r.trainMs.min <= r.trainMs.median && r.trainMs.median <= r.trainMs.max, 'median within min-max');
      assert.ok(r.trainDispatches > 0 && r.inferDispatches > 0);
    });
    // The report renders from the same JSON, plots inline in the HTML.
    const profile = await profileStep({ arch: tiny, inputs: [inputs[0], inputs[0]], batch: 1, seed: 5, warmup: 0 });
    const profileLow = await profileStep({ arch: tiny, inputs: [inputs[0], inputs[2]], batch: 1, seed: 5, warmup: 0 });
    const files = writeBenchReport(dir, { speed: j, profile, profileLow });
    for (const f of files) assert.ok(existsSync(f), f);
    const html = readFileSync(join(dir, 'bench-report.html'), 'utf8');
    assert.ok((html.match(/<svg /g) ?? []).length >= (profile.clock === 'timestamp-query' ? 3 : 2), 'plots are inline SVG');
    assert.not.match(html, /<script|src="http/);
    const md = readFileSync(join(dir, 'bench-report.md'), 'utf8');
    assert.match(md, /time-vs-flops\.svg/);
    assert.match(md, /Where a small input's time goes: student at 32x32 vs 8x8/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
