/**
 * Whole-slide tiling (data/slide/): slides are built here from the synthetic renderer at 40x
 * (0.25 micron per pixel), tissue on the left, glass on the right, and written as an
 * Aperio-style SVS, an OME-TIFF with SubIFDs (test TIFF writer, deflate: lossless), a libvips
 * tiled TIFF without pyramid (deflate) and a libvips JPEG pyramid. Checked: resolution from
 * each kind of file, exact area downsampling from the level read (lossless) or within the
 * stated JPEG error, the magnification pyramid, the tissue mask, splits by patient and slide,
 * manifest coordinates, bad files (with and without --skip-bad), resume after a kill, workers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../engine/random.ts';
import { areaDownsample, decodeImage, type RgbImage } from '../../data/image.ts';
import { areaResample } from '../../data/slide/resample.ts';
import { openSlide } from '../../data/slide/slide.ts';
import { otsuThreshold } from '../../data/slide/tissue.ts';
import { assignSplits } from '../../data/slide/labels.ts';
import { runPool, tileSlides, windowJob, type PoolWorker, type TileManifest } from '../../data/slide/tile.ts';
import { planSlide, windowsOf } from '../../data/slide/plan.ts';
import { runWindowJob, type TileRunConfig, type WindowJob } from '../../data/slide/window_job.ts';
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { SlideError } from '../../data/slide/errors.ts';
import { tempDir, listFiles } from './fixtures.ts';
import { MPP40, renderSlide, writeAperio, writeAperioJpeg, writeOme, writeSharpPyramid } from './slide_fixtures.ts';

const tmp = tempDir('slide');
test.after(() => tmp.cleanup());

// 1024 x 768 at 0.25 um/px: 768 columns of tissue, 256 of glass. At 10x with 64-pixel tiles a
// tile is 256 level-0 pixels: a 4 x 3 grid, 3 x 3 on tissue, one column on glass.
const W = 1024,
  H = 768,
  TISSUE = 768,
  TILE = 64,
  SIZE0 = 256;
const level0 = renderSlide(W, H, TISSUE, 11);
const MAGS = ['10x', '5x', '2.5x'];
const path = (name: string) => join(tmp.dir, name);

/** The level-0 square of a manifest tile, area-downsampled by `factor` (float64-free: integer block means). */
function expectedTile(t: { x0: number; y0: number; size0: number }, factor: number): RgbImage {
  const crop = new Uint8Array(t.size0 * t.size0 * 3);
  for (let y = 0; y < t.size0; y++)
    crop.set(level0.data.subarray(((t.y0 + y) * W + t.x0) * 3, ((t.y0 + y) * W + t.x0 + t.size0) * 3), y * t.size0 * 3);
  return areaDownsample({ data: crop, width: t.size0, height: t.size0 }, factor);
}

function tilePath(out: string, mag: string, t: { name: string; split: string; class: string | null }) {
  return t.class ? join(out, mag, t.split, t.class, `${t.name}.png`) : join(out, mag, 'unlabeled', `${t.name}.png`);
}

function maxDiff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0,
    sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

async function rejects(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

const readManifest = (out: string) => JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as TileManifest;

test('resolution and levels from the file: Aperio MPP, OME PhysicalSizeX with SubIFDs, TIFF resolution in centimetres; thumbnail and label pages are not levels', async () => {
  writeAperio(path('aperio.svs'), level0);
  writeOme(path('ome.ome.tiff'), level0);
  await writeSharpPyramid(path('vips.tif'), level0, 'jpeg');
  const a = openSlide(path('aperio.svs'));
  assert.is(a.format, 'aperio');
  assert.is(a.mpp0, MPP40);
  assert.equal(
    a.levels.map((l) => [l.width, l.downsample]),
    [
      [W, 1],
      [W / 4, 4],
      [W / 16, 16],
    ],
  );
  const o = openSlide(path('ome.ome.tiff'));
  assert.is(o.id, 'ome');
  assert.is(o.mppSource, 'ome');
  assert.is(o.mpp0, MPP40);
  assert.equal(
    o.levels.map((l) => [l.subIfd, l.downsample]),
    [
      [-1, 1],
      [0, 2],
      [1, 4],
    ],
  );
  const v = openSlide(path('vips.tif'));
  assert.is(v.mppSource, 'resolution-tags');
  assert.ok(Math.abs(v.mpp0 - MPP40) < 1e-6, `mpp ${v.mpp0}`);
  // libvips halves until a level fits in one 256-pixel tile.
  assert.equal(
    v.levels.map((l) => l.downsample),
    [1, 2, 4],
  );
  assert.is(v.levels[0].compression, 'JPEG');
});

test('lossless slides: every 10x tile is exactly the area downsample of the rendered level 0 at its manifest coordinates (Aperio level 4x read as is, OME SubIFD, single-level TIFF downsampled by 4); 5x and 2.5x are exact downsamples of the 10x tile', async () => {
  await writeSharpPyramid(path('flat.tif'), level0, 'deflate', false);
  const out = path('exact');
  await tileSlides({ slides: [path('aperio.svs'), path('ome.ome.tiff'), path('flat.tif')], out, mags: MAGS, tile: TILE, workers: 0 });
  const m = readManifest(out);
  assert.equal(
    m.slides.map((s) => [s.id, s.readLevel, s.readFactor]),
    [
      ['aperio', 1, 1],
      ['ome', 2, 1],
      ['flat', 0, 4],
    ],
  );
  assert.equal(
    m.magnifications.map((g) => [g.name, g.tile, g.micronsPerPixel]),
    [
      ['10x', 64, 1],
      ['5x', 32, 2],
      ['2.5x', 16, 4],
    ],
  );
  assert.ok(m.tiles.length >= 3 * 8, `${m.tiles.length} tiles`);
  for (const t of m.tiles) {
    assert.is(t.size0, SIZE0);
    // Coordinates round-trip: the name carries them and the grid is whole tiles.
    assert.is(t.name, `${t.slide}_x${t.x0}_y${t.y0}`);
    assert.is(t.x0 % SIZE0, 0);
    const ten = await decodeImage(tilePath(out, '10x', t));
    assert.ok(
      Buffer.from(ten.data).equals(Buffer.from(expectedTile(t, 4).data)),
      `${t.name}: 10x tile differs from the level-0 block mean`,
    );
    for (const [mag, f] of [
      ['5x', 2],
      ['2.5x', 4],
    ] as const) {
      const low = await decodeImage(tilePath(out, mag, t));
      assert.ok(Buffer.from(low.data).equals(Buffer.from(areaDownsample(ten, f).data)), `${t.name} ${mag}`);
    }
  }
});

test('libvips JPEG pyramid: each 10x tile (read from the 4x level) is within the JPEG error of the level-0 area downsample: mean abs error <= 3, max <= 25 grey levels', async () => {
  const out = path('jpeg');
  await tileSlides({ slides: [path('vips.tif')], out, mags: MAGS, tile: TILE, workers: 0 });
  const m = readManifest(out);
  assert.is(m.slides[0].readFactor, 1);
  let worstMean = 0,
    worstMax = 0;
  for (const t of m.tiles) {
    const d = maxDiff((await decodeImage(tilePath(out, '10x', t))).data, expectedTile(t, 4).data);
    worstMean = Math.max(worstMean, d.mean);
    worstMax = Math.max(worstMax, d.max);
  }
  console.log(`    JPEG (q90) pyramid vs exact 10x: worst tile mean |err| ${worstMean.toFixed(2)}, max ${worstMax}`);
  assert.ok(worstMean <= 3, `mean error ${worstMean}`);
  assert.ok(worstMax <= 25, `max error ${worstMax}`);
});

test('Aperio SVS with JPEG tiles (compression 7, YCbCr 4:2:0): the 10x tiles are exactly the 4x level as libjpeg (through sharp) decodes its tiles: libtiff hands each tile to the same libjpeg, so the tiler adds no error of its own', async () => {
  const file = path('jpeg-aperio.svs');
  const decoded = await writeAperioJpeg(file, level0);
  const out = path('jpeg-aperio');
  await tileSlides({ slides: [file], out, mags: MAGS, tile: TILE, workers: 0 });
  const m = readManifest(out);
  assert.equal([m.slides[0].readLevel, m.slides[0].readFactor, m.slides[0].levels[1].compression], [1, 1, 'JPEG']);
  assert.ok(m.tiles.length >= 7);
  let worst = 0,
    jpegMean = 0;
  for (const t of m.tiles) {
    const got = (await decodeImage(tilePath(out, '10x', t))).data;
    const want = new Uint8Array(TILE * TILE * 3);
    const x = t.x0 / 4,
      y = t.y0 / 4;
    for (let r = 0; r < TILE; r++)
      want.set(decoded.data.subarray(((y + r) * decoded.width + x) * 3, ((y + r) * decoded.width + x + TILE) * 3), r * TILE * 3);
    worst = Math.max(worst, maxDiff(got, want).max);
    jpegMean = Math.max(jpegMean, maxDiff(got, expectedTile(t, 4).data).mean);
  }
  console.log(
    `    Aperio JPEG tiles: worst |tile - libjpeg decode| ${worst}; JPEG error itself (worst tile mean vs exact) ${jpegMean.toFixed(2)}`,
  );
  assert.is(worst, 0, `worst ${worst}`);
});

test('tissue mask: keeps the tissue tiles and drops the glass ones; thumbnail PNG written', async () => {
  const m = readManifest(path('exact'));
  for (const s of m.slides) {
    const tiles = m.tiles.filter((t) => t.slide === s.id);
    const onGlass = tiles.filter((t) => t.x0 + t.size0 > TISSUE);
    assert.is(onGlass.length, 0, `${s.id}: glass tiles kept: ${onGlass.map((t) => t.name)}`);
    // 9 tiles lie wholly on tissue; lumens of the rendered tissue may push one or two below half.
    assert.ok(tiles.length >= 7, `${s.id}: only ${tiles.length} of 9 tissue tiles kept`);
    assert.ok(existsSync(join(path('exact'), 'thumbnails', `${s.id}.png`)));
  }
  // Otsu on a two-mode sample puts the threshold between the modes.
  const rng = new Rng(3);
  const v = new Float32Array(2000).map((_, i) => (i < 1400 ? 0.02 + 0.02 * rng.next() : 0.5 + 0.3 * rng.next()));
  const th = otsuThreshold(v);
  assert.ok(th > 0.04 && th <= 0.5, `threshold ${th}`);
});

test('splits follow patients and slides; unlabeled slides go to the pool; a split given in the CSV is kept', async () => {
  const names = ['s1', 's2', 's3', 's4', 's5', 's6', 's7'];
  for (const n of names) copyFileSync(path('aperio.svs'), path(`${n}.svs`));
  const csv = path('labels.csv');
  writeFileSync(
    csv,
    'slide,label,patient,split\ns1.svs,tumour,P1,\ns2,normal,P1,\ns3,tumour,P2,\ns4,normal,P3,\ns5,tumour,P4,\ns6,normal,P5,test\n',
  );
  const out = path('splits');
  const r = await tileSlides({ slides: names.map((n) => path(`${n}.svs`)), out, mags: MAGS, tile: TILE, labels: csv, workers: 0 });
  const m = r.manifest;
  assert.equal(m.classes, ['normal', 'tumour']);
  const splitOf = new Map(m.slides.map((s) => [s.id, s.split]));
  assert.is(splitOf.get('s1'), splitOf.get('s2'), 'one patient, two splits');
  assert.is(splitOf.get('s6'), 'test');
  assert.is(splitOf.get('s7'), 'unlabeled');
  assert.equal(new Set([...splitOf.values()]).size >= 3, true);
  for (const t of m.tiles) {
    assert.is(t.split, splitOf.get(t.slide));
    for (const mag of MAGS) assert.ok(existsSync(tilePath(out, mag, t)), `${mag} ${t.name} missing`);
  }
  // Nothing on disk that the manifest does not list.
  const pngs = listFiles(join(out, '10x')).filter((f) => f.endsWith('.png'));
  assert.is(pngs.length, m.tiles.length);
  assert.is(m.counts.train + m.counts.val + m.counts.test + m.counts.unlabeled, m.tiles.length);

  // Many patients: none in two splits, every split used.
  const rows = Array.from({ length: 40 }, (_, i) => ({ slide: `a${i}`, label: 'x', patient: `p${i % 17}` }));
  const splits = assignSplits(rows, 5);
  const byPatient = new Map<string, Set<string>>();
  for (const row of rows) byPatient.set(row.patient, (byPatient.get(row.patient) ?? new Set()).add(splits.get(row.slide)!));
  for (const [p, s] of byPatient) assert.is(s.size, 1, `patient ${p} in ${[...s]}`);
  assert.equal(new Set(splits.values()).size, 3);
  // Stratified: 5 patients of each of two classes -> every split holds both classes.
  const two = Array.from({ length: 10 }, (_, i) => ({ slide: `t${i}`, label: i % 2 ? 'x' : 'y', patient: `q${i}` }));
  const cut = assignSplits(two, 1);
  for (const split of ['train', 'val', 'test'])
    assert.equal(new Set(two.filter((r) => cut.get(r.slide) === split).map((r) => r.label)), new Set(['x', 'y']), split);
});

test('bad slides: truncated, JPEG 2000, not a slide, unreadable, no resolution: errors name the file (and the remedy); --skip-bad counts them and tiles the rest', async () => {
  const truncated = path('truncated.svs');
  copyFileSync(path('aperio.svs'), truncated);
  truncateSync(truncated, Math.floor(statSync(truncated).size * 0.6));
  const jp2k = path('jp2k.svs');
  writeAperio(jp2k, level0, { compression: 33003, opaqueTile: new Uint8Array([0xff, 0x4f, 0xff, 0x51, 0, 0]) });
  const text = path('notes.svs');
  writeFileSync(text, 'this is not a slide\n');
  const missing = path('missing.svs');
  const folder = path('folder.svs');
  mkdirSync(folder, { recursive: true });
  const noRes = path('nores.svs');
  writeAperio(noRes, level0, { mpp: null });

  const cases: [string, RegExp, string][] = [
    [truncated, /truncated/, 'truncated'],
    [jp2k, /JPEG 2000.*vips tiffsave/s, 'compression'],
    [text, /not a slide/, 'not-slide'],
    [missing, /cannot open/, 'unreadable'],
    [folder, /cannot (open|read)/, 'unreadable'],
    [noRes, /--mpp-override/, 'resolution'],
  ];
  for (const [file, pattern, kind] of cases) {
    try {
      await tileSlides({ slides: [file], out: path(`bad-${kind}`), mags: MAGS, tile: TILE, workers: 0 });
      assert.unreachable(`${file} was accepted`);
    } catch (e) {
      assert.instance(e, SlideError, `${file}: ${(e as Error).message}`);
      assert.ok((e as Error).message.includes(file), `message does not name ${file}: ${(e as Error).message}`);
      assert.match((e as Error).message, pattern);
      assert.is((e as SlideError).kind, kind);
    }
  }
  const warnings: string[] = [];
  const r = await tileSlides({
    slides: [...cases.map((c) => c[0]), path('aperio.svs')],
    out: path('skip'),
    mags: MAGS,
    tile: TILE,
    workers: 0,
    skipBad: true,
    onWarning: (w) => warnings.push(w),
  });
  assert.is(r.manifest.skipped.length, cases.length);
  assert.is(warnings.length, cases.length);
  assert.equal(
    r.manifest.slides.map((s) => s.id),
    ['aperio'],
  );
  assert.ok(r.manifest.tiles.length > 0);
  // --mpp-override serves the slide without resolution; a file's own value wins otherwise.
  const o = await tileSlides({
    slides: [noRes, path('aperio.svs')],
    out: path('override'),
    mags: MAGS,
    tile: TILE,
    workers: 0,
    mppOverride: 0.5,
  });
  assert.equal(
    o.manifest.slides.map((s) => [s.id, s.mpp0, s.mppSource]),
    [
      ['nores', 0.5, 'override'],
      ['aperio', MPP40, 'aperio'],
    ],
  );
  // A slide coarser than the target is refused (0.5 um/px cannot give 20x = 0.5? it can; 40x = 0.25 cannot).
  await rejects(
    () => tileSlides({ slides: [noRes], out: path('coarse'), mags: ['40x'], tile: TILE, workers: 0, mppOverride: 0.5 }),
    /coarser than/,
  );
});

test('resume: a killed run (tiles missing, temporaries left) continues; the result is byte-identical to one uninterrupted run; 2 workers write the same bytes as the main thread; other options are refused', async () => {
  const out = path('resume');
  const slides = [path('aperio.svs'), path('flat.tif')];
  const full = await tileSlides({ slides, out, mags: MAGS, tile: TILE, workers: 2 });
  const files = listFiles(out);
  const bytes = new Map(files.map((f) => [f, readFileSync(join(out, f))]));
  // Simulate a kill: some tiles gone at some magnifications, a temporary file left behind.
  const gone = full.manifest.tiles.slice(0, 5);
  for (const t of gone) rmSync(tilePath(out, '10x', t));
  rmSync(tilePath(out, '2.5x', gone[0]));
  mkdirSync(join(out, '.partial'), { recursive: true });
  writeFileSync(join(out, '.partial', '123-0-0.tmp'), 'half a tile');
  const again = await tileSlides({ slides, out, mags: MAGS, tile: TILE, workers: 0 });
  assert.is(again.written, gone.length);
  assert.is(again.resumed, full.manifest.tiles.length - gone.length);
  assert.equal(listFiles(out), files);
  for (const f of files) assert.ok(readFileSync(join(out, f)).equals(bytes.get(f)!), `${f} differs after resume`);
  assert.not.ok(existsSync(join(out, '.partial')));
  await rejects(() => tileSlides({ slides, out, mags: MAGS, tile: 32, workers: 0 }), /other options/);
});

test('worker pool: the calling thread takes jobs until a worker has loaded, then none; a worker that fails to load fails the run after the job in progress', async () => {
  const slide = openSlide(path('flat.tif'));
  const plan = await planSlide(slide, 1.0, TILE, 0);
  // One tile per window: 12 jobs.
  const jobs: WindowJob[] = windowsOf(plan, plan.tiles, TILE, 1, 1).map((w) => windowJob(plan, w, (name) => `unlabeled/${name}.png`));
  assert.is(jobs.length, 12);
  const out = path('pool');
  const partialDir = join(out, '.partial');
  mkdirSync(partialDir, { recursive: true });
  const config: TileRunConfig = { out, tile: TILE, mags: [{ name: '10x', factor: 1 }] };
  /** A worker that loads when told and then runs its jobs in this thread, answering as worker.ts does. */
  const fakeWorker = () => {
    const emitter = new EventEmitter();
    const handled: number[] = [];
    const worker = Object.assign(emitter, {
      postMessage(job: WindowJob) {
        handled.push(jobs.indexOf(job));
        runWindowJob(config, job, partialDir).then((result) => emitter.emit('message', { result }));
      },
    }) as unknown as Worker;
    let load!: () => void, fail!: (e: Error) => void;
    const pw: PoolWorker = { worker, isReady: false, ready: new Promise((res, rej) => ((load = res), (fail = rej))) };
    pw.ready.catch(() => {});
    return { pw, handled, load: () => ((pw.isReady = true), load()), fail };
  };

  const w = fakeWorker();
  const done: number[] = [];
  await runPool(config, partialDir, jobs, [w.pw], (i, result, error) => {
    if (error) throw error;
    done.push(i);
    if (done.length === 2) w.load(); // the worker loads while the calling thread ends its second job
  });
  assert.equal(done.slice(0, 2), [0, 1], 'the calling thread took the first jobs');
  assert.equal(w.handled, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'the loaded worker took every later job');
  assert.equal(
    [...done].sort((a, b) => a - b),
    [...jobs.keys()],
  );
  assert.is(readdirSync(join(out, '10x', 'unlabeled')).length, 12);

  const broken = fakeWorker();
  const done2: number[] = [];
  const run = runPool(config, partialDir, jobs, [broken.pw], (i) => {
    done2.push(i);
    if (done2.length === 3) broken.fail(new Error('worker failed to load'));
  });
  await rejects(() => run, /worker failed to load/);
  assert.equal(done2, [0, 1, 2], 'no job starts after the failure');
  assert.equal(broken.handled, []);
});

test('areaResample: whole factors equal the block mean exactly; a fractional factor and origin match the float64 area average (rounded) within one grey level at ties', () => {
  const rng = new Rng(9);
  const img: RgbImage = { data: new Uint8Array(23 * 19 * 3).map(() => rng.int(256)), width: 23, height: 19 };
  assert.equal(areaResample(img, 0, 0, 3, 7, 6).data, areaDownsample(img, 3).data);
  const f = 2.5,
    x0 = 1.25,
    y0 = 0.5,
    ow = 8,
    oh = 7;
  const got = areaResample(img, x0, y0, f, ow, oh);
  let worst = 0;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let y = 0; y < img.height; y++) {
          const wy = Math.max(0, Math.min(y + 1, y0 + (oy + 1) * f) - Math.max(y, y0 + oy * f));
          if (!wy) continue;
          for (let x = 0; x < img.width; x++) {
            const wx = Math.max(0, Math.min(x + 1, x0 + (ox + 1) * f) - Math.max(x, x0 + ox * f));
            s += wx * wy * img.data[(y * img.width + x) * 3 + c];
          }
        }
        worst = Math.max(worst, Math.abs(got.data[(oy * ow + ox) * 3 + c] - s / (f * f)));
      }
    }
  }
  console.log(`    areaResample f=2.5: worst |err| vs float64 ${worst.toFixed(4)} grey levels (rounding: <= 0.5)`);
  assert.ok(worst <= 0.5 + 1e-9, `worst ${worst}`);
});

test.run();
