/**
 * Checkpoints: bit-exact round trip with metadata; a file that does not fit fails listing every
 * problem; a PyTorch-style state_dict without our metadata loads by inferring the architecture.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpu } from '../helpers/gpu.ts';
import { Tensor } from '../../engine/tensor.ts';
import { noGrad } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { ResNet } from '../../models/resnet.ts';
import type { ResNetArch } from '../../models/arch.ts';
import { saveCheckpoint, loadCheckpoint, CheckpointError } from '../../models/checkpoint.ts';
import { readSafetensors, writeSafetensors } from '../../models/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'rbd-ckpt-'));
test.before(async () => {
  await gpu();
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const arch = (norm: 'group' | 'batch', layers = [1, 1, 1, 1]): ResNetArch => ({
  planes: [8, 16, 32, 64],
  layers,
  norm,
  groups: 4,
  numClasses: 4,
  inChannels: 3,
});

/** Random values in every parameter and buffer (so a lost or swapped tensor shows). */
function randomize(model: ResNet, seed: number) {
  const rng = new Rng(seed);
  for (const [name, t] of model.stateDict())
    t.write(rng.array(t.size, () => (name.endsWith('running_var') ? rng.uniform(0.5, 2) : rng.normal(0, 1))));
}

async function bits(t: Tensor): Promise<number[]> {
  return Array.from(new Uint32Array((await t.read()).buffer));
}

test('round trip x=[2,3,45,39] batch norm: every tensor bit-exact, metadata kept, same logits', async () => {
  const a = new ResNet(arch('batch'), 1);
  randomize(a, 3);
  const file = join(dir, 'rt.safetensors');
  const extras = {
    classNames: ['Abnormal', 'Normal', 'Sprue', 'Other'],
    magnification: 2.5,
    normalization: { mean: [0.7, 0.5, 0.6], std: [0.15, 0.2, 0.1] },
    training: { lr: 1e-3, T: 1, pixelLoss: 'mse' },
    epoch: 7,
  };
  await saveCheckpoint(file, a, extras);
  const { model: b, info } = loadCheckpoint(file);
  assert.equal(info.arch, arch('batch'));
  assert.is(info.inferred, false);
  assert.equal(
    {
      classNames: info.classNames,
      magnification: info.magnification,
      normalization: info.normalization,
      training: info.training,
      epoch: info.epoch,
    },
    extras,
  );
  const sa = a.stateDict();
  const sb = new Map(b.stateDict());
  assert.is(sb.size, sa.length);
  for (const [name, t] of sa) assert.equal(await bits(sb.get(name)!), await bits(t), name);
  a.eval();
  b.eval();
  const x = Tensor.from(new Rng(4).array(2 * 3 * 45 * 39), [2, 3, 45, 39]);
  const [ya, yb] = noGrad(() => [a.forward(x), b.forward(x)]);
  assert.equal(await bits(yb.logits), await bits(ya.logits));
  for (const t of [x, ya.logits, ya.features, yb.logits, yb.features]) t.dispose();
  a.dispose();
  b.dispose();
});

test('a file that does not fit lists every problem at once (missing, wrong shape, unexpected)', async () => {
  const m = new ResNet(arch('group'), 1);
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, t] of m.stateDict()) {
    if (name === 'layer_2.0.norm_1.bias') continue; // missing
    const data = (await t.read()) as Float32Array;
    if (name === 'layer_3.0.conv_2.weight')
      entries.push([name, { shape: [32, 32, 1, 9], data }]); // wrong shape, same size
    else entries.push([name, { shape: t.shape, data }]);
  }
  entries.push(['layer_5.0.conv_1.weight', { shape: [2], data: new Float32Array(2) }]); // unexpected
  const file = join(dir, 'bad.safetensors');
  // Our metadata, so the architecture is not inferred from the damaged names.
  await saveCheckpoint(file, m);
  writeSafetensors(file, entries, readSafetensors(file).metadata);
  try {
    loadCheckpoint(file);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, CheckpointError);
    const msg = (e as Error).message;
    assert.match(msg, `checkpoint ${file}: does not fit the model (3 problems)`);
    assert.match(msg, 'missing layer_2.0.norm_1.bias [16]');
    assert.match(msg, 'wrong shape for layer_3.0.conv_2.weight: file has [32,32,1,9], the model needs [32,32,3,3]');
    assert.match(msg, 'unexpected layer_5.0.conv_1.weight [2]');
    assert.match(msg, /Remedy: check the architecture/);
  }
  m.dispose();
});

/**
 * A state_dict as PyTorch's safetensors.torch.save_file writes it: no metadata, F32 tensors,
 * and for batch norm an I64 `num_batches_tracked` scalar per layer. Built by hand here.
 */
function torchStyleFile(path: string, tensors: [string, readonly number[], Float32Array][], batchNormPrefixes: string[]) {
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const addChunk = (name: string, dtype: string, shape: readonly number[], bytes: Uint8Array) => {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  };
  for (const [name, shape, data] of tensors) addChunk(name, 'F32', shape, new Uint8Array(data.buffer.slice(0)));
  for (const p of batchNormPrefixes) addChunk(`${p}.num_batches_tracked`, 'I64', [], new Uint8Array(new BigInt64Array([12n]).buffer));
  const json = Buffer.from(JSON.stringify(header));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
  writeFileSync(path, Buffer.concat([len, json, ...chunks]));
}

test('no metadata (PyTorch state_dict, batch norm, layers 2,1,1,2): architecture inferred, num_batches_tracked ignored, weights loaded', async () => {
  const src = new ResNet(arch('batch', [2, 1, 1, 2]), 5);
  randomize(src, 6);
  const tensors: [string, readonly number[], Float32Array][] = [];
  for (const [name, t] of src.stateDict()) tensors.push([name, t.shape, (await t.read()) as Float32Array]);
  const bnPrefixes = src
    .namedBuffers()
    .filter(([n]) => n.endsWith('running_mean'))
    .map(([n]) => n.replace(/\.running_mean$/, ''));
  const file = join(dir, 'torch.safetensors');
  torchStyleFile(file, tensors, bnPrefixes);
  const { model, info } = loadCheckpoint(file);
  assert.is(info.inferred, true);
  assert.equal(info.arch, { ...arch('batch', [2, 1, 1, 2]), groups: 32 });
  assert.equal(info.classNames, ['class_0', 'class_1', 'class_2', 'class_3']);
  const loaded = new Map(model.stateDict());
  for (const [name, t] of src.stateDict()) assert.equal(await bits(loaded.get(name)!), await bits(t), name);
  model.dispose();
  src.dispose();
});

test('no metadata, group norm: the group count must be given when 32 does not divide the widths; override works', async () => {
  const src = new ResNet(arch('group'), 5);
  const tensors: [string, readonly number[], Float32Array][] = [];
  for (const [name, t] of src.stateDict()) tensors.push([name, t.shape, (await t.read()) as Float32Array]);
  const file = join(dir, 'torch-gn.safetensors');
  torchStyleFile(file, tensors, []);
  assert.throws(() => loadCheckpoint(file), /GroupNorm groups=32 must divide every width, but not 8, 16.*pass the group count/);
  const { model, info } = loadCheckpoint(file, { groups: 4 });
  assert.equal(info.arch, arch('group'));
  model.dispose();
  src.dispose();
});

test('corrupt and missing checkpoint files: errors name the file', () => {
  const file = join(dir, 'corrupt.safetensors');
  writeFileSync(file, 'this is not a checkpoint at all');
  assert.throws(() => loadCheckpoint(file), /checkpoint .*corrupt\.safetensors: not a valid safetensors file/);
  assert.throws(() => loadCheckpoint(join(dir, 'absent.safetensors')), /checkpoint .*absent\.safetensors: no such file/);
  const noResnet = join(dir, 'other.safetensors');
  writeSafetensors(noResnet, [['encoder.weight', { shape: [2], data: new Float32Array(2) }]]);
  assert.throws(
    () => loadCheckpoint(noResnet),
    /cannot infer the architecture: no metadata, and missing conv_1\.weight, fc\.weight, layer_1\.0\.conv_1\.weight/,
  );
});

test.run();
