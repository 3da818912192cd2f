// @smoke-gl
/**
 * `rbd infer`, run in-process: the tensor-file form gives exactly the model's own outputs; the
 * image form decodes, normalizes with the checkpoint's mean/std and prints the probabilities
 * an independent float64 softmax gives; bad calls fail with messages naming the problem.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { gpu } from '../helpers/gpu.ts';
import { Tensor } from '../../engine/tensor.ts';
import { noGrad } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { ResNet } from '../../models/resnet.ts';
import type { ResNetArch } from '../../models/arch.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { readSafetensors, writeSafetensors } from '../../models/safetensors.ts';
import { run } from '../../cli/commands/infer.ts';

const dir = mkdtempSync(join(tmpdir(), 'rbd-infer-'));
const arch: ResNetArch = { planes: [8, 16, 32, 64], layers: [1, 1, 1, 1], norm: 'batch', groups: 4, numClasses: 3, inChannels: 3 };
const normalization = { mean: [0.6, 0.45, 0.7], std: [0.2, 0.25, 0.15] };
const classNames = ['Acinar', 'Lepidic', 'Solid'];
let model: ResNet;
const ckpt = join(dir, 'model.safetensors');
const bareCkpt = join(dir, 'bare.safetensors');

test.before(async () => {
  await gpu();
  model = new ResNet(arch, 9);
  const rng = new Rng(9);
  // Random running statistics, so eval mode differs visibly from training mode.
  for (const [name, t] of model.namedBuffers())
    t.write(rng.array(t.size, () => (name.endsWith('var') ? rng.uniform(0.5, 2) : rng.normal(0, 0.3))));
  model.eval();
  await saveCheckpoint(ckpt, model, { classNames, normalization, magnification: 5 });
  await saveCheckpoint(bareCkpt, model);
});
test.after(() => {
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Run the command, returning what it printed. */
async function infer(...argv: string[]): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    assert.is(await run(argv), 0);
  } finally {
    console.log = log;
  }
  return lines;
}

async function bits(a: ArrayLike<number>) {
  return Array.from(new Uint32Array(Float32Array.from(a).buffer));
}

test('--input/--out x=[2,3,41,37]: logits and features are bit-identical to the model run directly (eval)', async () => {
  const shape = [2, 3, 41, 37];
  const rng = new Rng(1);
  const data = Float32Array.from(rng.array(2 * 3 * 41 * 37, () => rng.normal(0, 1)));
  const xFile = join(dir, 'x.safetensors');
  const yFile = join(dir, 'y.safetensors');
  writeSafetensors(xFile, [['input', { shape, data }]]);
  const printed = await infer('--checkpoint', ckpt, '--input', xFile, '--out', yFile);
  assert.match(printed.join('\n'), /logits \[2,3\], features \[2,64,2,2\]/);
  const y = readSafetensors(yFile);
  const x = Tensor.from(data, shape);
  const direct = noGrad(() => model.forward(x));
  assert.equal(y.tensors.get('logits')!.shape, [2, 3]);
  assert.equal(await bits(y.tensors.get('logits')!.data!), await bits(await direct.logits.read()));
  assert.equal(y.tensors.get('features')!.shape, [...direct.features.shape]);
  assert.equal(await bits(y.tensors.get('features')!.data!), await bits(await direct.features.read()));
  for (const t of [x, direct.features, direct.logits]) t.dispose();
});

test('--images two PNGs (23x19 and 16x30): probabilities match a float64 softmax of the model on the normalized pixels', async () => {
  const rng = new Rng(2);
  const files: [string, Uint8Array, number, number][] = [];
  for (const [h, w] of [
    [23, 19],
    [16, 30],
  ]) {
    const rgb = Uint8Array.from(rng.array(h * w * 3, () => rng.int(256)));
    const file = join(dir, `img${h}x${w}.png`);
    await sharp(Buffer.from(rgb), { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toFile(file);
    files.push([file, rgb, h, w]);
  }
  const printed = await infer('--checkpoint', ckpt, '--images', files[0][0], files[1][0]);
  assert.is(printed.length, 2);
  for (const [i, [file, rgb, h, w]] of files.entries()) {
    // Independent preprocessing: HWC bytes -> [1,3,H,W], (v/255 - mean) / std.
    const x = new Float32Array(3 * h * w);
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let c = 0; c < 3; c++)
          x[(c * h + y) * w + xx] = (rgb[(y * w + xx) * 3 + c] / 255 - normalization.mean[c]) / normalization.std[c];
    const t = Tensor.from(x, [1, 3, h, w]);
    const out = noGrad(() => model.forward(t));
    const logits = Array.from(await out.logits.read());
    for (const u of [t, out.features, out.logits]) u.dispose();
    const m = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - m));
    const p = e.map((v) => v / e.reduce((a, b) => a + b, 0));
    const best = classNames[p.indexOf(Math.max(...p))];
    assert.is(printed[i], `${file}: ${classNames.map((n, k) => `${n} ${p[k].toFixed(4)}`).join('  ')}  -> ${best}`);
  }
});

test('bad calls fail with messages naming the problem', async () => {
  const xFile = join(dir, 'x3d.safetensors');
  writeSafetensors(xFile, [['input', { shape: [3, 5, 5], data: new Float32Array(75) }]]);
  const other = join(dir, 'other.safetensors');
  writeSafetensors(other, [['pixels', { shape: [1], data: new Float32Array(1) }]]);
  const png = join(dir, 'img23x19.png');
  const corrupt = join(dir, 'corrupt.png');
  writeFileSync(corrupt, 'not an image');
  const cases: [string[], RegExp][] = [
    [['--input', xFile, '--out', 'y'], /--checkpoint is required/],
    [['--checkpoint', join(dir, 'nope.safetensors'), '--images', png], /no such file: .*nope\.safetensors/],
    [['--checkpoint', ckpt, '--input', xFile], /--out is required with --input/],
    [
      ['--checkpoint', ckpt, '--input', xFile, '--out', 'y', '--images', png],
      /give one of --input \(with --out\), --images or --slide \(with --out\)/,
    ],
    [
      ['--checkpoint', ckpt, '--input', xFile, '--out', join(dir, 'y3.safetensors')],
      /'input' in .*x3d\.safetensors is \[3,5,5\]; the model needs \[N, 3, H, W\]/,
    ],
    [['--checkpoint', ckpt, '--input', other, '--out', join(dir, 'y4.safetensors')], /has no tensor named 'input' \(it has: pixels\)/],
    [['--checkpoint', bareCkpt, '--images', png], /stores no input normalization; pass --mean r,g,b and --std r,g,b/],
    [['--checkpoint', ckpt, '--images', corrupt], /cannot decode image .*corrupt\.png/],
    [['--checkpoint', ckpt, '--images', png, '--planes', '8,x'], /--planes must be a comma-separated list of whole numbers/],
    [['--checkpoint', ckpt, '--images', png, '--classes', '4'], /does not fit the model \(2 problems\)/],
  ];
  for (const [argv, pattern] of cases) {
    try {
      await run(argv);
      assert.unreachable(`rbd infer ${argv.join(' ')} should have failed`);
    } catch (e) {
      assert.match((e as Error).message, pattern, `rbd infer ${argv.join(' ')}`);
    }
  }
});

test.run();
