/**
 * bench flops: its per-magnification counts equal hand counts on a tiny network and the model
 * counter's (models/flops.ts) at the input sizes a slide pyramid gives, the training step is teacher forward at the top size plus
 * student forward and backward, and its JSON has the documented fields. No GPU needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countFlops } from '../../models/flops.ts';
import { RBD_ARCH, RESNET18_ARCH, type ResNetArch } from '../../models/arch.ts';
import { flopsRows } from '../../bench/flops.ts';
import { magsFlag } from '../../cli/flags.ts';
import { run } from '../../cli/commands/bench/flops.ts';

test('magsFlag: 256px at 10x is 128 at 5x, 64 at 2.5x, 32 at 1.25x, 16 at 0.625x (any order given)', () => {
  const m = magsFlag('bench flops', '2.5x,10x,0.625x,5x,1.25x', 256);
  assert.equal(
    m.map((x) => x.mag),
    ['10x', '5x', '2.5x', '1.25x', '0.625x'],
  );
  assert.equal(
    m.map((x) => x.size),
    [
      [256, 256],
      [128, 128],
      [64, 64],
      [32, 32],
      [16, 16],
    ],
  );
  assert.equal(
    m.map((x) => x.factor),
    [1, 2, 4, 8, 16],
  );
});

test('magsFlag: bad magnification lists and tiles are refused naming the flag', () => {
  assert.throws(() => magsFlag('bench flops', '10x,3x', 256), /--mags.*whole-number/);
  assert.throws(() => magsFlag('bench flops', '10x,1.25x', 100), /--mags with --tile 100: tile 100 is not divisible by 8/);
  assert.throws(() => magsFlag('bench flops', '10x,ten', 256), /--mags.*'ten' is not a magnification/);
  assert.throws(() => magsFlag('bench flops', '10x,10x', 256), /twice/);
});

for (const [name, arch] of [
  ['rbd', RBD_ARCH],
  ['resnet18', RESNET18_ARCH],
] as const) {
  test(`flopsRows ${name} tile 224 at 20x,10x,5x,2.5x: equal to countFlops at 224,112,56,28`, () => {
    const rows = flopsRows(arch, magsFlag('bench flops', '20x,10x,5x,2.5x', 224));
    const teacher = countFlops(arch, [224, 224]);
    [224, 112, 56, 28].forEach((side, i) => {
      const c = countFlops(arch, [side, side]);
      const r = rows[i];
      assert.is(r.inputPx, side * side);
      assert.is(r.forwardFlops, c.total.forwardFlops, `${r.mag} forward`);
      assert.is(r.studentBackwardFlops, c.total.backwardFlops, `${r.mag} backward`);
      assert.is(r.trainStepFlops, teacher.total.forwardFlops + c.total.forwardFlops + c.total.backwardFlops, `${r.mag} train step`);
      assert.is(r.trainStepGflops, r.trainStepFlops / 1e9);
      assert.is(r.params, c.total.params);
      assert.is(r.trainActivationBytes, c.total.activationBytes);
      assert.ok(Math.abs(r.relForward - c.total.forwardFlops / teacher.total.forwardFlops) < 1e-15);
    });
  });
}

test('flopsRows by hand: tiny ResNet (planes 4,8, GN 2, 3 classes) at 13x11 and 8x8, batch 1', () => {
  const tiny: ResNetArch = { planes: [4, 8], layers: [1, 1], norm: 'group', groups: 2, numClasses: 3, inChannels: 3 };
  // 13x11: half the batch-2 totals worked out layer by layer in test/models/flops.test.ts
  // (every count there is linear in the batch): forward 134230 / 2, backward 165478 / 2.
  // 8x8: forward 24151, backward 28803 (the layer-by-layer sums in test/bench/speed.test.ts).
  const rows = flopsRows(tiny, [
    { mag: '10x', value: 10, size: [13, 11], factor: 1 },
    { mag: '5x', value: 5, size: [8, 8], factor: 2 },
  ]);
  assert.is(rows[0].forwardFlops, 67115);
  assert.is(rows[0].studentBackwardFlops, 82739);
  assert.is(rows[1].forwardFlops, 24151);
  assert.is(rows[1].studentBackwardFlops, 28803);
  // A training step: the teacher's forward at the top size, the student's forward and backward.
  assert.is(rows[0].trainStepFlops, 67115 + 67115 + 82739);
  assert.is(rows[1].trainStepFlops, 67115 + 24151 + 28803);
  // Parameters: stem 588, its norm 8, layer_1 2*144 + 2*8, layer_2 288 + 576 + 32 + 3*16, fc 27.
  assert.is(rows[1].params, 588 + 8 + 288 + 16 + 288 + 576 + 32 + 48 + 27);
  assert.ok(Math.abs(rows[1].relForward - 24151 / 67115) < 1e-15);
});

test('bench flops --json: documented fields, counts equal the counter, self-describing meta', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rbd-bench-flops-'));
  try {
    const file = join(dir, 'flops.json');
    const log = console.log;
    console.log = () => {};
    try {
      assert.is(await run(['--mags', '10x,2.5x', '--tile', '96', '--json', file]), 0);
    } finally {
      console.log = log;
    }
    const j = JSON.parse(readFileSync(file, 'utf8'));
    for (const k of [
      'benchmark',
      'adapter',
      'webgpuVersion',
      'nodeVersion',
      'git',
      'seeds',
      'commandLine',
      'date',
      'arch',
      'tile',
      'results',
    ])
      assert.ok(k in j, `field ${k}`);
    assert.is(j.adapter, null, 'no GPU is used by bench flops');
    assert.ok(!Number.isNaN(Date.parse(j.date)));
    assert.is(j.results.length, 2);
    const c = countFlops(RBD_ARCH, [24, 24]);
    const r = j.results[1];
    for (const k of [
      'mag',
      'inputPx',
      'forwardGflops',
      'trainStepGflops',
      'forwardFlops',
      'trainStepFlops',
      'params',
      'trainActivationBytes',
      'relForward',
      'relTrainStep',
    ])
      assert.ok(k in r, `results[].${k}`);
    assert.is(r.mag, '2.5x');
    assert.is(r.inputPx, 24 * 24);
    assert.is(r.forwardFlops, c.total.forwardFlops);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
