/**
 * Reading data: a tiny ImageFolder fixture written at test time with a corrupt image, an empty
 * class folder, a class missing from a split and a non-image file; the warnings printed once
 * when the data source opens; the loader's batches (layout, labels, normalization) against
 * values computed here; --skip-bad; derived lower magnifications (memory and disk cache)
 * paired with the top; augmentation seeded per tile (independent of batching) and the fixed
 * augmentation table; mixed-size errors; and the data set folder left untouched.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../engine/random.ts';
import { openDataset, listSamples, listPairs, channelStats } from '../../data/dataset.ts';
import { applyGeometry } from '../../data/augment.ts';
import { Loader, DataSource, measureLoader, augmentTable, type LoaderOptions, type SplitName } from '../../data/loader.ts';
import { IDENTITY_AUGMENT } from '../../data/augment.ts';
import { encodePng, decodeImage, type RgbImage } from '../../data/image.ts';
import { DataError } from '../../data/errors.ts';
import { tempDir, listFiles, blockMeans } from './fixtures.ts';

const tmp = tempDir('loader');
test.after(() => tmp.cleanup());

function randomImage(rng: Rng, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { data, width, height };
}

/**
 * ROOT/10x/train/a: 3 images 8x8 + notes.txt      ROOT/10x/train/b: 2 images + corrupt.png
 * ROOT/10x/train/c: empty                         ROOT/10x/val/{a,b}: 1 image each (no c)
 * ROOT/10x/unlabeled: 2 images                     (no 5x folder: derived on demand)
 */
const ROOT = join(tmp.dir, 'ds');
const images = new Map<string, RgbImage>();
async function writeFixture() {
  const rng = new Rng(42);
  const put = async (rel: string) => {
    const img = randomImage(rng, 8, 8);
    images.set(rel, img);
    mkdirSync(join(ROOT, rel, '..'), { recursive: true });
    writeFileSync(join(ROOT, rel), await encodePng(img));
  };
  for (const f of ['a/a1.png', 'a/a2.png', 'a/a3.png', 'b/b1.png', 'b/b2.png']) await put(`10x/train/${f}`);
  for (const f of ['a/a9.png', 'b/b9.png']) await put(`10x/val/${f}`);
  for (const f of ['u1.png', 'u2.png']) await put(`10x/unlabeled/${f}`);
  writeFileSync(join(ROOT, '10x/train/a/notes.txt'), 'not an image');
  // A PNG cut in half: the signature is right, the data is not.
  const whole = await encodePng(randomImage(rng, 8, 8));
  writeFileSync(join(ROOT, '10x/train/b/corrupt.png'), whole.subarray(0, whole.length >> 1));
  mkdirSync(join(ROOT, '10x/train/c'), { recursive: true });
}

function snapshot(root: string): string {
  return listFiles(root)
    .map((f) => `${f}:${statSync(join(root, f)).size}:${statSync(join(root, f)).mtimeMs}`)
    .join('\n');
}

let before = '';
test.before(async () => {
  await writeFixture();
  before = snapshot(ROOT);
});

const cacheDir = () => join(tmp.dir, 'cache');

/** A data source on `root` whose warnings are collected instead of printed. */
async function open(root: string, opts: { skipBad?: boolean; derive?: 'memory' | 'disk' } = {}) {
  const warnings: string[] = [];
  const source = await DataSource.open(root, { cacheDir: cacheDir(), warn: (w) => warnings.push(w), ...opts });
  return { source, warnings };
}

/** A loader over one split of a source. */
const loaderOf = (source: DataSource, split: SplitName, options: Partial<LoaderOptions> & { mags: string[] }) =>
  new Loader(source, source.samples(split), { batchSize: 1, ...options });

async function drain(loader: Loader) {
  for await (const _ of loader.epoch(0)) {
    // consume
  }
}

test('openDataset: classes sorted, warnings name the empty class, the missing class and the non-image file', () => {
  const ds = openDataset(ROOT, { cacheDir: cacheDir() });
  assert.equal(ds.classes, ['a', 'b', 'c']);
  assert.equal(
    ds.mags.map((m) => m.name),
    ['10x'],
  );
  assert.equal(ds.splits, ['train', 'val', 'unlabeled']);
  const text = ds.warnings.join('\n');
  assert.match(text, /class 'c' has no images in .*10x\/train\/c/);
  assert.match(text, /class 'c' is missing from split 'val' at 10x/);
  assert.match(text, /not images \(10x\/train\/a\/notes\.txt\)/);
  const train = listSamples(ds, { mag: '10x', split: 'train' });
  assert.equal(
    train.map((s) => [s.key, s.label]),
    [
      ['a/a1', 0],
      ['a/a2', 0],
      ['a/a3', 0],
      ['b/b1', 1],
      ['b/b2', 1],
      ['b/corrupt', 1],
    ],
  );
  assert.equal(
    listSamples(ds, { mag: '10x', split: 'unlabeled' }).map((s) => s.label),
    [-1, -1],
  );
});

test('DataSource prints the data set warnings once, when it opens', async () => {
  const { source, warnings } = await open(ROOT, { skipBad: true });
  assert.equal(warnings, source.warnings);
  assert.is(warnings.length, 3);
  await drain(loaderOf(source, 'train', { mags: ['10x'], batchSize: 2 }));
  // The unreadable file adds exactly one warning, naming it, however often it is asked for.
  await drain(loaderOf(source, 'train', { mags: ['10x'], batchSize: 2 }));
  assert.is(warnings.length, 4);
  assert.match(warnings[3], /skipped unreadable image \(--skip-bad\): .*corrupt\.png/);
});

test('a corrupt image is an error naming the file and --skip-bad: at open (training mean/std) and in a batch', async () => {
  const strict = await DataSource.open(ROOT, { cacheDir: join(tmp.dir, 'fresh-cache'), warn: () => {} }).catch((e) => e as Error);
  assert.instance(strict, DataError);
  assert.match((strict as Error).message, /cannot read image .*10x\/train\/b\/corrupt\.png.*--skip-bad/s);
  // A readable training split and a corrupt validation image: the loader meets it.
  const root = join(tmp.dir, 'bad-val');
  const rng = new Rng(2);
  mkdirSync(join(root, '10x/train/a'), { recursive: true });
  mkdirSync(join(root, '10x/val/a'), { recursive: true });
  writeFileSync(join(root, '10x/train/a/t.png'), await encodePng(randomImage(rng, 8, 8)));
  writeFileSync(join(root, '10x/val/a/v.png'), (await encodePng(randomImage(rng, 8, 8))).subarray(0, 20));
  const { source } = await open(root);
  try {
    await drain(loaderOf(source, 'val', { mags: ['10x'] }));
    assert.unreachable('the corrupt file should stop the epoch');
  } catch (e) {
    assert.instance(e, DataError);
    assert.match((e as Error).message, /cannot read image .*10x\/val\/a\/v\.png.*pass --skip-bad/s);
  }
});

test('loader with skipBad: batch [N,3,8,8] NCHW values (x/255 - mean)/std with mean/std recomputed here; the bad file counted', async () => {
  const ds = openDataset(ROOT, { cacheDir: cacheDir() });
  // Training mean/std over the five readable images, float64, pixel values in [0, 1].
  const train = ['a/a1', 'a/a2', 'a/a3', 'b/b1', 'b/b2'].map((k) => images.get(`10x/train/${k}.png`)!);
  const mean = [0, 1, 2].map(
    (c) => train.reduce((s, img) => s + img.data.filter((_, i) => i % 3 === c).reduce((a, v) => a + v / 255, 0), 0) / (5 * 64),
  );
  const std = [0, 1, 2].map((c) =>
    Math.sqrt(
      train.reduce((s, img) => s + img.data.filter((_, i) => i % 3 === c).reduce((a, v) => a + (v / 255 - mean[c]) ** 2, 0), 0) / (5 * 64),
    ),
  );
  const stats = await channelStats(ds, '10x', { skipBad: true });
  for (let c = 0; c < 3; c++) {
    assert.ok(
      Math.abs(stats.mean[c] - mean[c]) < 1e-12 && Math.abs(stats.std[c] - std[c]) < 1e-12,
      `channel ${c}: ${stats.mean[c]}/${stats.std[c]} vs ${mean[c]}/${std[c]}`,
    );
  }
  const { source } = await open(ROOT, { skipBad: true });
  const loader = loaderOf(source, 'train', { mags: ['10x'], batchSize: 4, prefetch: 3 });
  const seen: string[] = [];
  let worst = 0;
  for await (const batch of loader.epoch(0)) {
    const [view] = batch.views;
    assert.equal(view.shape.slice(1), [3, 8, 8]);
    assert.is(view.data.length, view.shape[0] * 3 * 64);
    batch.refs.forEach(({ key }, n) => {
      seen.push(key);
      assert.is(batch.labels[n], key.startsWith('a/') ? 0 : 1);
      const img = images.get(`10x/train/${key}.png`)!;
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < 64; p++) {
          const want = (img.data[3 * p + c] / 255 - mean[c]) / std[c];
          worst = Math.max(worst, Math.abs(view.data[(n * 3 + c) * 64 + p] - want));
        }
      }
    });
  }
  console.log(`    loader values: worst |got - (x/255 - mean)/std| = ${worst.toExponential(2)}`);
  // float32 storage of values of size ~2: a few ulps (2^-22 ~ 2.4e-7).
  assert.ok(worst < 1e-6, `worst ${worst}`);
  assert.equal(seen, ['a/a1', 'a/a2', 'a/a3', 'b/b1', 'b/b2']);
  assert.is(loader.stats.images, 5);
  assert.is(source.skipped.size, 1);
  assert.match([...source.skipped.keys()][0], /corrupt\.png/);
  assert.ok(loader.stats.imagesPerSecond > 0);
});

test('pairs 10x + derived 5x (memory): same keys and labels, student = area downsample of the same flipped/turned teacher', async () => {
  const ds = openDataset(ROOT, { cacheDir: cacheDir() });
  const pairs = listPairs(ds, { teacherMag: '10x', studentMag: '5x', split: 'val' });
  assert.equal(
    pairs.map((p) => [p.key, p.label, p.student.factor]),
    [
      ['a/a9', 0, 2],
      ['b/b9', 1, 2],
    ],
  );
  const { source } = await open(ROOT, { skipBad: true });
  const loader = loaderOf(source, 'val', {
    mags: ['10x', '5x'],
    batchSize: 2,
    normalize: false,
    augment: { brightness: 0, contrast: 0, saturation: 0, hue: 0 },
    seed: 9,
    shuffle: true,
  });
  let checked = 0;
  for (let epoch = 0; epoch < 4; epoch++) {
    for await (const batch of loader.epoch(epoch)) {
      const [teacher, student] = batch.views;
      assert.equal(teacher.shape, [2, 3, 8, 8]);
      assert.equal(student.shape, [2, 3, 4, 4]);
      for (let n = 0; n < 2; n++) {
        // Rebuild the teacher's bytes (interleaved) and downsample them in float64.
        const t: RgbImage = { data: new Uint8Array(64 * 3), width: 8, height: 8 };
        for (let c = 0; c < 3; c++) for (let p = 0; p < 64; p++) t.data[3 * p + c] = Math.round(teacher.data[(n * 3 + c) * 64 + p] * 255);
        const ref = blockMeans(t, 2);
        for (let c = 0; c < 3; c++) {
          for (let p = 0; p < 16; p++) {
            // The student was rounded to whole grey levels once (0.5) before the transform.
            const diff = Math.abs(student.data[(n * 3 + c) * 16 + p] * 255 - ref.data[3 * p + c]);
            assert.ok(diff <= 0.5 + 1e-4, `epoch ${epoch} pair ${batch.refs[n].key} c=${c} p=${p}: ${diff}`);
          }
        }
        checked++;
      }
    }
  }
  assert.is(checked, 8);
});

test('derive to disk: derived images cached under cacheDir, identical to memory, and the data set folder is untouched', async () => {
  const collect = async (derive: 'memory' | 'disk') => {
    // A fresh source each time: its in-memory image cache would hide the disk cache.
    const { source } = await open(ROOT, { skipBad: true, derive });
    const out: number[][] = [];
    for await (const b of loaderOf(source, 'train', { mags: ['10x', '2.5x'], normalize: false }).epoch(0))
      out.push(Array.from(b.views[1].data));
    return out;
  };
  const fromMemory = await collect('memory');
  const firstDisk = await collect('disk');
  const cached = listFiles(cacheDir()).filter((f) => f.startsWith('derived'));
  // The 5 readable training images, plus the 2.5x derivations that channelStats made at open.
  assert.ok(cached.length >= 5, `cached: ${cached.join(', ')}`);
  const secondDisk = await collect('disk'); // read back from the cache
  assert.equal(firstDisk, fromMemory);
  assert.equal(secondDisk, fromMemory);
  assert.is(snapshot(ROOT), before, 'the data set folder changed');
});

test('mixed sizes give clear errors; an underivable magnification and a bad split too', async () => {
  const ds = openDataset(ROOT, { cacheDir: cacheDir() });
  const { source } = await open(ROOT, { skipBad: true });
  const mixed = join(tmp.dir, 'mixed');
  mkdirSync(join(mixed, '10x/train/x'), { recursive: true });
  const rng = new Rng(1);
  writeFileSync(join(mixed, '10x/train/x/big.png'), await encodePng(randomImage(rng, 12, 10)));
  writeFileSync(join(mixed, '10x/train/x/small.png'), await encodePng(randomImage(rng, 8, 8)));
  const { source: mds } = await open(mixed);
  try {
    await drain(loaderOf(mds, 'train', { mags: ['10x'], batchSize: 2, normalize: false }));
    assert.unreachable('mixed sizes');
  } catch (e) {
    assert.match(
      (e as Error).message,
      /images in one batch must have one size: train\/x\/small at 10x is 8x8, train\/x\/big is 12x10; use --batch 1/,
    );
  }
  // Batch size 1 takes images of any size (the paper's one-at-a-time training).
  const shapes: number[][] = [];
  for await (const b of loaderOf(mds, 'train', { mags: ['10x'], normalize: false }).epoch(0)) shapes.push(b.views[0].shape);
  assert.equal(shapes, [
    [1, 3, 10, 12],
    [1, 3, 8, 8],
  ]);
  assert.throws(() => listSamples(ds, { mag: '3x', split: 'train' }), /3x is not a whole-number reduction of 10x/);
  assert.throws(() => listSamples(ds, { mag: '20x', split: 'train' }), /higher than the highest/);
  assert.throws(() => source.samples('tset' as SplitName), /has no 'tset' split \(it has train, val, unlabeled\)/);
  assert.throws(
    () => loaderOf(source, 'train', { mags: ['7x'] }),
    /unknown magnification '7x': .* has 10x, and 7x is not a whole-number reduction of 10x/,
  );
  assert.throws(() => loaderOf(source, 'train', { mags: ['seven'] }), /unknown magnification 'seven'/);
  // A derivable magnification becomes a level of its own: a quarter of the side, four times the microns per pixel.
  assert.equal(source.level('2.5x'), { name: '2.5x', value: 2.5, micronsPerPixel: 4 * source.level('10x').micronsPerPixel, tile: 2 });
  assert.throws(() => openDataset(join(tmp.dir, 'nowhere')), /does not exist; generate one with 'rbd synth/);
});

test('measureLoader: images/s of a loader alone over a synthetic-sized fixture (16 images 64x64, augmentation on)', async () => {
  const root = join(tmp.dir, 'speed');
  const rng = new Rng(5);
  for (let i = 0; i < 16; i++) {
    mkdirSync(join(root, '10x/train/k'), { recursive: true });
    writeFileSync(join(root, `10x/train/k/${i}.png`), await encodePng(randomImage(rng, 64, 64)));
  }
  const { source } = await open(root);
  const r = await measureLoader(loaderOf(source, 'train', { mags: ['10x', '2.5x'], batchSize: 4, augment: {}, shuffle: true }));
  console.log(
    `    loader alone: ${r.images} pairs (64 px + derived 16 px, augmented) in ${r.seconds.toFixed(3)} s = ${r.imagesPerSecond.toFixed(0)} pairs/s`,
  );
  assert.is(r.images, 16);
  assert.ok(r.imagesPerSecond > 0);
  assert.ok(existsSync(join(root, '10x')) && !existsSync(join(root, '2.5x')), 'nothing written into the data set');
  assert.ok(readFileSync(join(root, '10x/train/k/0.png')).length > 0);
  // A decoded file round-trips through the same path the loader uses.
  assert.is((await decodeImage(join(root, '10x/train/k/0.png'))).width, 64);
});

test('bug: batches failing behind the awaited one were unhandled rejections that aborted the process', async () => {
  const { source: mds } = await open(join(tmp.dir, 'mixed'));
  // Every batch of this loader fails (mixed sizes), and three are in flight when the first error reaches us.
  const refs = mds.samples('train');
  const loader = new Loader(mds, [...refs, ...refs, ...refs, ...refs], { mags: ['10x'], batchSize: 2, prefetch: 3, normalize: false });
  let message = '';
  try {
    await drain(loader);
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /images in one batch must have one size/);
  // Give the other batches time to settle: an unhandled rejection would end the process here.
  await new Promise((resolve) => setTimeout(resolve, 100));
});

test('augmentation is seeded per tile: the same tile gets the same view whatever the batch size; epochs differ', async () => {
  const { source } = await open(ROOT, { skipBad: true });
  const views = async (batchSize: number, epoch: number) => {
    const out = new Map<string, number[]>();
    const loader = loaderOf(source, 'train', { mags: ['10x', '5x'], batchSize, augment: {}, seed: 3, shuffle: true });
    for await (const b of loader.epoch(epoch)) {
      const per = 3 * 4 * 4;
      b.refs.forEach((r, n) => out.set(r.key, Array.from(b.views[1].data.subarray(n * per, (n + 1) * per))));
    }
    return out;
  };
  const [two, three, nextEpoch] = [await views(2, 0), await views(3, 0), await views(2, 1)];
  assert.is(two.size, 5);
  for (const [key, v] of two) assert.equal(three.get(key), v, `tile ${key}`);
  assert.ok(
    [...two].some(([key, v]) => JSON.stringify(nextEpoch.get(key)) !== JSON.stringify(v)),
    'epoch 1 drew the same augmentation for every tile',
  );
});

test('random crops: each crop is a window of the same augmented tile, its corner drawn per tile; paired views refuse crops', async () => {
  const { source } = await open(ROOT, { skipBad: true });
  const load = async (crop: number) => {
    const out = new Map<string, Float32Array>();
    const loader = loaderOf(source, 'train', { mags: ['10x'], batchSize: 2, augment: {}, seed: 5, shuffle: true, crop });
    for await (const b of loader.epoch(0)) {
      const [, c, h, w] = b.views[0].shape;
      b.refs.forEach((r, n) => out.set(r.key, b.views[0].data.slice(n * c * h * w, (n + 1) * c * h * w)));
    }
    return out;
  };
  const whole = await load(0);
  const cropped = await load(5);
  assert.is(cropped.size, whole.size);
  const corners = new Set<string>();
  for (const [key, crop] of cropped) {
    // Find the (y0, x0) at which the crop equals the 8x8 augmented tile's window, planar CHW.
    const full = whole.get(key)!;
    const at: string[] = [];
    for (let y0 = 0; y0 <= 3; y0++)
      for (let x0 = 0; x0 <= 3; x0++) {
        let same = true;
        for (let ch = 0; ch < 3 && same; ch++)
          for (let y = 0; y < 5 && same; y++)
            for (let x = 0; x < 5 && same; x++) same = crop[(ch * 5 + y) * 5 + x] === full[(ch * 8 + y0 + y) * 8 + x0 + x];
        if (same) at.push(`${y0},${x0}`);
      }
    assert.is(at.length, 1, `tile ${key}: the crop is not one window of its augmented tile (${at.join(' ')})`);
    corners.add(at[0]);
  }
  assert.ok(corners.size > 1, 'every tile got the same crop corner');
  assert.throws(
    () => loaderOf(source, 'train', { mags: ['10x', '5x'], batchSize: 2, crop: 4 }),
    (e: Error) => e instanceof DataError && /one magnification/.test(e.message),
  );
  const tooBig = loaderOf(source, 'train', { mags: ['10x'], batchSize: 2, crop: 9 });
  const error = await drain(tooBig).then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(error instanceof DataError && /larger than the 8x8 tiles/.test(error.message), `expected a crop-size error, got ${error}`);
});

test('augmentTable: 8 distinct symmetries per colour draw, entry 0 the identity, the same table every time; the loader reports the ids it drew', async () => {
  const table = augmentTable(24);
  assert.is(table.length, 24);
  assert.equal(table[0], IDENTITY_AUGMENT);
  assert.equal(augmentTable(24), table);
  // The 8 geometries of each colour draw map a 3x2 test pattern to 8 different images.
  const pattern = Float32Array.from({ length: 9 }, (_, i) => i);
  for (let j = 0; j < 3; j++) {
    const seen = new Set(table.slice(8 * j, 8 * j + 8).map((p) => Array.from(applyGeometry(pattern, 1, 3, 3, p).data).join(',')));
    assert.is(seen.size, 8, `colour draw ${j}`);
    const colours = new Set(
      table.slice(8 * j, 8 * j + 8).map((p) => JSON.stringify([p.order, p.brightness, p.contrast, p.saturation, p.hue])),
    );
    assert.is(colours.size, 1, `one colour per draw ${j}`);
  }
  assert.throws(() => augmentTable(12), /multiple of 8/);
  const { source } = await open(ROOT, { skipBad: true });
  const loader = loaderOf(source, 'val', { mags: ['10x'], batchSize: 2, augment: {}, augmentSet: 24, seed: 4, normalize: false });
  const plan = loader.plan(0);
  const ids = plan.flatMap((b) => b.augmentIds!);
  assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 24));
  plan.forEach((b) => b.params.forEach((p, k) => assert.equal(p, table[b.augmentIds![k]])));
  const batch = await loader.load(plan[0]);
  assert.equal(batch.augmentIds, plan[0].augmentIds);
});

test('decodeImage reads lossless tif/webp and grey or RGBA png as the same 8-bit RGB: image 7x5', async () => {
  const sharp = (await import('sharp')).default;
  const rng = new Rng(8);
  const img = randomImage(rng, 7, 5);
  const raw = { raw: { width: 7, height: 5, channels: 3 as const } };
  const dir = join(tmp.dir, 'formats');
  mkdirSync(dir, { recursive: true });
  await sharp(img.data, raw).tiff({ compression: 'lzw' }).toFile(join(dir, 'a.tif'));
  await sharp(img.data, raw).webp({ lossless: true }).toFile(join(dir, 'a.webp'));
  for (const f of ['a.tif', 'a.webp']) {
    const back = await decodeImage(join(dir, f));
    assert.equal([back.width, back.height], [7, 5], f);
    assert.equal(Array.from(back.data), Array.from(img.data), `${f} pixels`);
  }
  // RGBA: alpha dropped. Grey: the one channel copied to R, G and B.
  const rgba = new Uint8Array(7 * 5 * 4).map((_, i) => (i % 4 === 3 ? 128 : img.data[Math.floor(i / 4) * 3 + (i % 4)]));
  await sharp(rgba, { raw: { width: 7, height: 5, channels: 4 } })
    .png()
    .toFile(join(dir, 'rgba.png'));
  assert.equal(Array.from((await decodeImage(join(dir, 'rgba.png'))).data), Array.from(img.data));
  const grey = new Uint8Array(35).map((_, i) => img.data[3 * i]);
  await sharp(grey, { raw: { width: 7, height: 5, channels: 1 } })
    .png()
    .toFile(join(dir, 'grey.png'));
  const g = await decodeImage(join(dir, 'grey.png'));
  assert.equal(
    Array.from(g.data),
    Array.from(grey).flatMap((v) => [v, v, v]),
  );
});

test.run();
