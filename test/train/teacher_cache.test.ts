/**
 * The teacher-target cache (train/teacher_cache.ts): every cached entry equals a fresh teacher
 * forward pass of that tile alone under the same augmentation (the cache computes tiles in
 * batches of whatever was missing); entries written to disk are read back bit for bit by a new
 * cache of the same teacher, and a different teacher checkpoint addresses other entries.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpu, assertClose } from '../helpers/gpu.ts';
import { synthesize } from '../../data/synth/synthesize.ts';
import { openDataSource, Loader } from '../../data/loader.ts';
import { DEFAULT_AUGMENT } from '../../data/augment.ts';
import { ResNet } from '../../models/resnet.ts';
import { presetArch } from '../../models/arch.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { Tensor } from '../../engine/tensor.ts';
import { noGrad } from '../../engine/autograd.ts';
import { TeacherTargetCache, fileHash } from '../../train/teacher_cache.ts';

const tmp = mkdtempSync(join(tmpdir(), 'rbd-tcache-'));
const data = join(tmp, 'data');
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const ARCH = presetArch('rbd', { planes: [4, 8, 8, 16], groups: 2, numClasses: 3 });

test.before(async () => {
  await gpu();
  await synthesize({
    out: data,
    seed: 5,
    train: 3,
    val: 1,
    test: 1,
    unlabeled: 0,
    tile: 32,
    mags: ['10x', '5x'],
    classes: 'cd',
    workers: 0,
  });
});

test('cached targets equal a fresh forward of each tile alone; disk entries round-trip; another teacher misses', async () => {
  const source = await openDataSource(data, { warn: () => {} });
  const refs = source.samples('train');
  const teacher = new ResNet(ARCH, 11);
  teacher.eval();
  const ckpt = join(tmp, 'teacher.safetensors');
  await saveCheckpoint(ckpt, teacher, { classNames: source.classes, magnification: 10 });
  const loader = new Loader(source, refs, {
    mags: ['10x', '5x'],
    batchSize: 4,
    augment: DEFAULT_AUGMENT,
    augmentSet: 16,
    shuffle: true,
    seed: 2,
  });
  const dir = join(tmp, 'cache');
  const cache = new TeacherTargetCache(teacher, fileHash(ckpt), '10x', dir);
  const planned = loader.plan(0).concat(loader.plan(1));
  const got: { logits: Float32Array; features: Float32Array }[] = [];
  for (const b of planned) got.push(await cache.targets(loader, b.refs, b.augmentIds!));
  const entries = planned.reduce((s, b) => s + b.size, 0);
  assert.is(cache.stats.computed + cache.stats.hits, entries);

  // Fresh forward of each tile alone, from the loader's own augmented teacher view.
  let worstLogit = 0,
    worstMap = 0;
  const wantLogits: number[] = [],
    gotLogits: number[] = [],
    wantMaps: number[] = [],
    gotMaps: number[] = [];
  for (let i = 0; i < planned.length; i++) {
    const b = planned[i];
    for (let k = 0; k < b.size; k++) {
      const one = await loader.load({ refs: [b.refs[k]], params: [b.params[k]], augmentIds: [b.augmentIds![k]], size: 1 }, ['10x']);
      const out = noGrad(() => teacher.forward(Tensor.from(one.views[0].data, one.views[0].shape)));
      const logits = (await out.logits.read()) as Float32Array;
      const map = (await out.features.read()) as Float32Array;
      out.logits.dispose();
      out.features.dispose();
      wantLogits.push(...logits);
      gotLogits.push(...got[i].logits.subarray(k * 3, (k + 1) * 3));
      wantMaps.push(...map);
      gotMaps.push(...got[i].features.subarray(k * map.length, (k + 1) * map.length));
    }
  }
  for (let i = 0; i < wantLogits.length; i++) worstLogit = Math.max(worstLogit, Math.abs(wantLogits[i] - gotLogits[i]));
  for (let i = 0; i < wantMaps.length; i++) worstMap = Math.max(worstMap, Math.abs(wantMaps[i] - gotMaps[i]));
  // GroupNorm normalizes each tile on its own and every kernel computes a tile's outputs from
  // that tile only, in the same order whatever the batch: the same float32 operations, so the
  // entries are expected to be identical. Allowed: 4 ulp of the values' scale (~1), 5e-7.
  assertClose('cached logits vs fresh single-tile forward', gotLogits, wantLogits, { atol: 5e-7, rtol: 0 });
  assertClose('cached stage-4 maps vs fresh single-tile forward', gotMaps, wantMaps, { atol: 5e-7, rtol: 0 });
  console.log(`    worst |cached - fresh|: logits ${worstLogit.toExponential(2)}, maps ${worstMap.toExponential(2)}`);

  // A new process's cache of the same teacher reads every entry from disk, bit for bit.
  const files = readdirSync(join(dir, fileHash(ckpt)));
  assert.is(files.length, cache.stats.computed);
  const again = new TeacherTargetCache(teacher, fileHash(ckpt), '10x', dir);
  for (let i = 0; i < planned.length; i++) {
    const r = await again.targets(loader, planned[i].refs, planned[i].augmentIds!);
    assert.equal(Array.from(r.logits), Array.from(got[i].logits));
    assert.equal(Array.from(r.features), Array.from(got[i].features));
  }
  assert.is(again.stats.computed, 0);
  assert.is(again.stats.fromDisk, cache.stats.computed);

  // Another checkpoint (other weights) has another hash: nothing is shared with the first.
  const other = new ResNet(ARCH, 12);
  other.eval();
  const otherCkpt = join(tmp, 'other.safetensors');
  await saveCheckpoint(otherCkpt, other, { classNames: source.classes, magnification: 10 });
  assert.is.not(fileHash(otherCkpt), fileHash(ckpt));
  const third = new TeacherTargetCache(other, fileHash(otherCkpt), '10x', dir);
  const r = await third.targets(loader, planned[0].refs, planned[0].augmentIds!);
  assert.is(third.stats.fromDisk, 0);
  assert.ok(
    Array.from(r.logits).some((v, i) => v !== got[0].logits[i]),
    'another teacher gave the same logits',
  );
  teacher.dispose();
  other.dispose();
});

test.run();
