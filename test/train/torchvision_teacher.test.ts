/**
 * Your own teacher: a PyTorch state_dict in torchvision's ResNet names (conv1, bn1,
 * layer1.0.conv1, layer1.0.downsample.0, fc), with BatchNorm (plus its I64
 * num_batches_tracked) or GroupNorm, written here from random float64 reference weights by a
 * minimal safetensors writer of this test (not the project's checkpoint writer), in F64.
 *  - Loaded, its logits match the float64 reference forward on the same weights (so every name
 *    maps to the right tensor);
 *  - `rbd distill --teacher T --teacher-mag 10x --classes a,b,c` distills from it; without those
 *    flags the errors name them;
 *  - `--init` starts a model from it: same outputs for the same classes, a fresh head for others.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpu, assertClose, type Tol } from '../helpers/gpu.ts';
import { Tensor } from '../../engine/tensor.ts';
import { noGrad } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { ResNet } from '../../models/resnet.ts';
import type { ResNetArch } from '../../models/arch.ts';
import { loadCheckpoint } from '../../models/checkpoint.ts';
import { referenceResNetForward } from '../models/reference_resnet.ts';
import type { Shape4 } from '../../engine/reference/conv2d.ts';
import { synthesize } from '../../data/synth/synthesize.ts';
import { trainDistill } from '../../train/distill.ts';
import { DEFAULT_DISTILL_LOSS } from '../../train/distill_loss.ts';
import { COMMON_DEFAULTS, buildModel } from '../../train/common.ts';
import { readJson } from '../../util/files.ts';

const tmp = mkdtempSync(join(tmpdir(), 'rbd-tv-'));
const data = join(tmp, 'data');
const CLASSES = ['abnormal', 'normal', 'sprue'];
test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.before(async () => {
  await gpu();
  await synthesize({
    out: data,
    seed: 5,
    train: 4,
    val: 2,
    test: 2,
    unlabeled: 0,
    tile: 32,
    mags: ['10x', '5x'],
    classes: 'cd',
    workers: 0,
  });
});

const archOf = (norm: 'batch' | 'group'): ResNetArch => ({
  planes: [8, 16, 32, 64],
  layers: [1, 1, 1, 1],
  norm,
  groups: 4,
  numClasses: 3,
  inChannels: 3,
});

/** The method's name -> torchvision's, written out here independently of models/torchvision_names.ts. */
function torchvisionName(name: string): string {
  return name
    .replace(/^conv_1\./, 'conv1.')
    .replace(/^norm_1\./, 'bn1.')
    .replace(/^layer_(\d+)\.(\d+)\.conv_(\d)\./, 'layer$1.$2.conv$3.')
    .replace(/^layer_(\d+)\.(\d+)\.norm_(\d)\./, 'layer$1.$2.bn$3.')
    .replace(/^layer_(\d+)\.(\d+)\.downsample\./, 'layer$1.$2.downsample.');
}

/** safetensors by hand: 8-byte little-endian header length, JSON header, raw little-endian data. */
function writeSafetensorsByHand(path: string, tensors: [string, string, number[], Buffer][]) {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, dtype, shape, bytes] of tensors) {
    header[name] = { dtype, shape, data_offsets: [at, at + bytes.length] };
    at += bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => t[3])]));
}

/** Random float64 weights for every tensor of `arch` (names and shapes from the model), written in torchvision names. */
function writeTorchvisionTeacher(path: string, arch: ResNetArch, seed: number): Map<string, Float64Array> {
  const rng = new Rng(seed);
  const shapes = new ResNet(arch, 0);
  const state = new Map<string, Float64Array>();
  const entries: [string, string, number[], Buffer][] = [];
  for (const [name, t] of shapes.stateDict()) {
    const values = Float64Array.from({ length: t.size }, () => {
      if (name.endsWith('running_var')) return rng.uniform(0.5, 2);
      if (name.endsWith('norm_1.weight') || name.endsWith('norm_2.weight') || /downsample\.1\.weight$/.test(name))
        return rng.uniform(0.5, 1.5);
      const fanIn = t.shape.slice(1).reduce((a, b) => a * b, 1);
      return rng.normal(0, fanIn > 1 ? Math.sqrt(2 / fanIn) : 0.2);
    });
    state.set(name, values);
    entries.push([torchvisionName(name), 'F64', [...t.shape], Buffer.from(values.buffer)]);
    if (name.endsWith('running_var'))
      entries.push([torchvisionName(name).replace(/running_var$/, 'num_batches_tracked'), 'I64', [], Buffer.alloc(8)]);
  }
  shapes.dispose();
  assert.ok(
    entries.some(([n]) => n === 'layer2.0.downsample.0.weight') &&
      entries.some(([n]) => n === 'layer1.0.conv1.weight') &&
      entries.some(([n]) => n === 'bn1.weight'),
  );
  writeSafetensorsByHand(path, entries);
  return state;
}

/**
 * Float32 forward vs float64 over ~10 layers of this small net: measured worst 9.6e-7 abs,
 * 4.1e-7 rel on the logits (batch and group norm); ~10x that. A misnamed or transposed tensor
 * moves the logits by O(0.1).
 */
const FWD: Tol = { atol: 1e-5, rtol: 5e-6 };

for (const norm of ['batch', 'group'] as const) {
  test(`torchvision-named ${norm}-norm state_dict loads: logits match the float64 reference on its weights`, async () => {
    const arch = archOf(norm);
    const file = join(tmp, `tv-${norm}.safetensors`);
    const state = writeTorchvisionTeacher(file, arch, norm === 'batch' ? 1 : 2);
    const { model, info } = loadCheckpoint(file, { groups: 4 });
    assert.is(info.naming, 'torchvision');
    assert.is(info.arch.norm, norm);
    model.eval();
    const rng = new Rng(3);
    const shape: Shape4 = [2, 3, 40, 36];
    const input = Float64Array.from({ length: 2 * 3 * 40 * 36 }, () => Math.fround(rng.normal(0, 1)));
    const x = Tensor.from(input, shape);
    const out = noGrad(() => model.forward(x));
    const ref = referenceResNetForward(arch, state, input, shape, false);
    assertClose(`${norm} logits`, await out.logits.read(), ref.logits, FWD);
    for (const t of [x, out.features, out.logits]) t.dispose();
    model.dispose();
  });
}

test('rbd distill from the torchvision-named teacher with --teacher-mag 10x --classes; without them the errors name the flags', async () => {
  const teacher = join(tmp, 'tv-batch.safetensors');
  const base = {
    ...COMMON_DEFAULTS,
    ...DEFAULT_DISTILL_LOSS,
    data,
    epochs: 1,
    batch: 6,
    accum: 1,
    augment: false,
    verbose: false,
    teacher,
    mag: '5x',
    unlabeled: 0,
    cacheTeacher: false,
    allowUpsampled: false,
  };
  const out = join(tmp, 'kd');
  const s = await trainDistill({ ...base, out, teacherMag: '10x', teacherClasses: CLASSES });
  assert.is(s.records.length, 1);
  assert.ok(Number.isFinite(s.records[0].loss) && s.records[0].loss > 0);
  assert.ok(existsSync(join(out, 'best.safetensors')));
  const config = readJson(join(out, 'config.json')) as { teacherMag: string; teacher: string };
  assert.is(config.teacherMag, '10x');
  const student = loadCheckpoint(join(out, 'best.safetensors'));
  assert.equal(student.info.classNames, CLASSES);
  student.model.dispose();
  const expectError = async (over: Record<string, unknown>, pattern: RegExp) => {
    try {
      await trainDistill({ ...base, out: join(tmp, 'kd-bad'), ...over });
      assert.unreachable('accepted');
    } catch (e) {
      assert.match((e as Error).message, pattern);
    }
  };
  await expectError({ teacherMag: '10x' }, /bare state_dict without class names; pass --classes abnormal,normal,sprue/);
  await expectError({ teacherClasses: CLASSES }, /does not record its magnification; pass --teacher-mag/);
  await expectError({ teacherMag: '10x', teacherClasses: ['a', 'b'] }, /--classes names 2 classes but teacher .* has 3 outputs/);
});

test("--init: same classes, the file's outputs; other classes, its trunk with a fresh head", async () => {
  const file = join(tmp, 'tv-batch.safetensors');
  const same = buildModel('rbd', 3, 0, file);
  const loaded = loadCheckpoint(file);
  const other = buildModel('rbd', 5, 0, file);
  assert.equal(same.arch.planes, [8, 16, 32, 64]);
  for (const [name, t] of loaded.model.stateDict()) {
    const a = await t.read();
    assert.equal(
      Array.from(
        await same
          .stateDict()
          .find(([n]) => n === name)![1]
          .read(),
      ),
      Array.from(a),
      name,
    );
    if (!name.startsWith('fc.'))
      assert.equal(
        Array.from(
          await other
            .stateDict()
            .find(([n]) => n === name)![1]
            .read(),
        ),
        Array.from(a),
        name,
      );
  }
  assert.equal([...other.fc.weight.shape], [5, 64]);
  for (const m of [same, other, loaded.model]) m.dispose();
});

test.run();
