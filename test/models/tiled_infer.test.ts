/**
 * Images of any size and whole slides through a checkpoint:
 *  - the plan for the 4096 x 4096 image on a 128 MiB binding limit tiles it (whole
 *    pass refused) into tiles that cover every pixel, at least the receptive field;
 *  - with a lowered binding limit, classifyImage on a 150 x 130 image equals the mean of the
 *    model's float64 softmax on each crop, run separately here;
 *  - `rbd infer --slide` writes a tiles CSV whose rows are the model's probabilities on the very
 *    tiles `rbd tile` writes (same names, same pixels), and a heatmap PNG of the thumbnail's size.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { gpu } from '../helpers/gpu.ts';
import { Tensor } from '../../engine/tensor.ts';
import { noGrad } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { ResNet } from '../../models/resnet.ts';
import type { ResNetArch } from '../../models/arch.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { activationBytes, classifyImage, planImage, receptiveField, type RgbPixels } from '../../models/tiled_infer.ts';
import { tileSlides } from '../../data/slide/tile.ts';
import { decodeImage } from '../../data/image.ts';
import { run } from '../../cli/commands/infer.ts';
import { tempDir } from '../data/fixtures.ts';
import { renderSlide, writeAperio } from '../data/slide_fixtures.ts';

const tmp = tempDir('tiled-infer');
const arch: ResNetArch = { planes: [8, 16, 32, 64], layers: [1, 1, 1, 1], norm: 'batch', groups: 4, numClasses: 3, inChannels: 3 };
const normalization = { mean: [0.6, 0.45, 0.7], std: [0.2, 0.25, 0.15] };
const classNames = ['a', 'b', 'c'];
let model: ResNet;

test.before(async () => {
  await gpu();
  model = new ResNet(arch, 4);
  const rng = new Rng(4);
  for (const [name, t] of model.namedBuffers())
    t.write(rng.array(t.size, () => (name.endsWith('var') ? rng.uniform(0.5, 2) : rng.normal(0, 0.3))));
  model.eval();
});
test.after(() => {
  model.dispose();
  tmp.cleanup();
});

/** float64 softmax of the model's logits on each w x h crop, each run alone. */
async function referenceProbs(img: RgbPixels, crops: [number, number][], w: number, h: number): Promise<number[][]> {
  const out: number[][] = [];
  for (const [x0, y0] of crops) {
    const x = new Float32Array(3 * h * w);
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let c = 0; c < 3; c++)
          x[(c * h + y) * w + xx] =
            (img.data[((y0 + y) * img.width + x0 + xx) * 3 + c] / 255 - normalization.mean[c]) / normalization.std[c];
    const t = Tensor.from(x, [1, 3, h, w]);
    const r = noGrad(() => model.forward(t));
    const logits = Array.from(await r.logits.read());
    for (const u of [t, r.features, r.logits]) u.dispose();
    const m = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    out.push(e.map((v) => v / s));
  }
  return out;
}

test('planning: a 4096 x 4096 image on a 128 MiB binding limit is tiled (the one pass it used to refuse), tiles >= the receptive field cover every pixel', () => {
  const big: ResNetArch = { planes: [32, 64, 128, 256], layers: [1, 1, 1, 1], norm: 'group', groups: 32, numClasses: 3, inChannels: 3 };
  const limit = 134217728;
  assert.ok(activationBytes(big, 4096, 4096).largest > limit / 2);
  const plan = planImage(big, 4096, 4096, limit);
  assert.not.ok(plan.whole);
  assert.ok(plan.tile >= receptiveField(big) && plan.tile % 32 === 0, `tile ${plan.tile}, field ${receptiveField(big)}`);
  assert.ok(plan.batch >= 1 && activationBytes(big, plan.tile, plan.tile).largest * plan.batch <= limit / 2);
  for (const cuts of [plan.xs, plan.ys]) {
    assert.is(cuts[0], 0);
    assert.is(cuts[cuts.length - 1] + plan.tile, 4096);
    for (let i = 1; i < cuts.length; i++) assert.ok(cuts[i] <= cuts[i - 1] + plan.tile, 'gap between tiles');
  }
  assert.ok(planImage(big, 224, 224, limit).whole);
});

test('classifyImage past the limit: mean of the float64 softmax of each tile crop, each run alone (|err| <= 1e-5)', async () => {
  const rng = new Rng(7);
  const img: RgbPixels = { data: Uint8Array.from(rng.array(150 * 130 * 3, () => rng.int(256))), width: 150, height: 130 };
  // A limit that the whole image exceeds but a 64-pixel tile fits.
  const limit = 2 * activationBytes(arch, 128, 128).largest;
  const r = await classifyImage(model, img, normalization, limit);
  assert.not.ok(r.plan.whole);
  const crops: [number, number][] = [];
  for (const y of r.plan.ys) for (const x of r.plan.xs) crops.push([x, y]);
  assert.is(r.tiles, crops.length);
  const ref = await referenceProbs(img, crops, r.plan.tile, r.plan.tile);
  let worst = 0;
  for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(r.probabilities[c] - ref.reduce((s, p) => s + p[c], 0) / ref.length));
  console.log(`    tiled image (${r.tiles} tiles of ${r.plan.tile}, batch ${r.plan.batch}): worst |p - ref| ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-5, `worst ${worst}`);
});

test('rbd infer --slide: CSV rows are the model on the tiles rbd tile writes (same names, |err| <= 1e-5); heatmap PNG of the thumbnail', async () => {
  const level0 = renderSlide(768, 512, 512, 5);
  const slide = join(tmp.dir, 'case7.svs');
  writeAperio(slide, level0);
  const ckpt = join(tmp.dir, 'm.safetensors');
  await saveCheckpoint(ckpt, model, { classNames, normalization, magnification: 10 });
  const out = join(tmp.dir, 'heat');
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    assert.is(await run(['--checkpoint', ckpt, '--slide', slide, '--out', out, '--tile', '64']), 0);
  } finally {
    console.log = log;
  }
  assert.match(lines.join('\n'), /case7: \d+ tiles of 64 px at 10x/);
  const rows = readFileSync(join(out, 'case7-tiles.csv'), 'utf8').trim().split('\n');
  assert.is(rows[0], 'name,x0,y0,size0,p_a,p_b,p_c');
  const tiles = join(tmp.dir, 'tiles');
  const t = await tileSlides({ slides: [slide], out: tiles, mags: ['10x'], tile: 64, workers: 0 });
  assert.is(rows.length - 1, t.manifest.tiles.length);
  let worst = 0;
  for (const row of rows.slice(1)) {
    const [name, x0, y0, size0, ...p] = row.split(',');
    const mt = t.manifest.tiles.find((m) => m.name === name);
    assert.ok(mt, `${name} not cut by rbd tile`);
    assert.equal([Number(x0), Number(y0), Number(size0)], [mt!.x0, mt!.y0, mt!.size0]);
    const img = await decodeImage(join(tiles, '10x', 'unlabeled', `${name}.png`));
    const [ref] = await referenceProbs(img, [[0, 0]], 64, 64);
    p.forEach((v, c) => (worst = Math.max(worst, Math.abs(Number(v) - ref[c]))));
  }
  assert.ok(worst <= 1e-5, `worst ${worst}`);
  const heat = join(out, 'case7-heatmap.png');
  assert.ok(existsSync(heat));
  const meta = await sharp(heat).metadata();
  assert.ok(meta.width! > 0 && meta.width! / meta.height! === 768 / 512);
});

test.run();
