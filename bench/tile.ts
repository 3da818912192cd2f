/**
 * Tiling speed and memory on a generated whole-slide image, against the raw JPEG decode rate of
 * the same library (sharp/libvips) measured in the same run.
 *
 * The slide: SIZE x SIZE pixels at 0.25 um/px (40x), written once by libvips as a tiled JPEG
 * pyramid (256-pixel tiles, quality 80, halving levels), kept in `dir` for later runs. Its
 * content is a 1024-pixel tile of the synthetic renderer repeated over the slide, with glass
 * (plain background) over the right quarter and a top band, so the tissue mask has work to do.
 *
 * Measured:
 *   - tiling: tileSlides() (plan, mask, decode, resample, PNG encode, atomic writes) with
 *     `workers` threads: tiles/s and megapixels/s. The pixels counted are those of the level
 *     read (the level nearest above the target: for 10x from 40x, the 4x level) under the tiles
 *     written, i.e. tiles x (tile x factor)^2: the same kind of pixel the raw decode counts, and
 *     no glass a window decoded around them. Two rates: over the tile phase (from the end of
 *     planning to the last tile written: the rate a long run sustains, comparable to the
 *     steady-state decode loop below) and end to end (planning included: a 20,000-pixel slide
 *     is only a few seconds of work, so the fixed costs weigh);
 *   - peak resident memory during tiling, sampled every 20 ms, and the process's lifetime peak
 *     (which also covers generating the slide);
 *   - raw JPEG decode: a 2048 x 2048 region of the same level encoded as one JPEG at the same
 *     quality, decoded by sharp `workers` at a time (sharp concurrency 1, as in the tiler's
 *     workers) for at least `decodeSeconds`, half before tiling and half after (the machine is
 *     shared: load that comes and goes then weighs on both sides alike): megapixels/s.
 * The ratio tiling MP/s / decode MP/s is the figure of merit (target >= 0.5, memory < 1 GiB).
 * Each rate is given per wall-clock second and per CPU second of the process (all its threads):
 * on a machine shared with other work the second ratio is the steadier one.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../engine/random.ts';
import { CLASS_SETS } from '../data/synth/classes.ts';
import { DEFAULT_KNOBS, drawSlideStain, renderTile } from '../data/synth/render.ts';
import { openSlide, levelFor, levelMpp, readRegion, type Slide, type SlideLevel } from '../data/slide/slide.ts';
import type { RgbImage } from '../data/image.ts';
import { downsampleFactor, requireMag } from '../data/mag.ts';
import { encodeRgbPng, PNG_COMPRESSIONS, type PngCompression } from '../data/slide/png.ts';
import { areaPyramid, areaResample } from '../data/slide/resample.ts';
import { encodeTilePngSharp } from '../data/slide/window_job.ts';
import { tileSlides } from '../data/slide/tile.ts';

export interface TileBenchOptions {
  /** Side of the generated slide in level-0 pixels (default 20000). */
  size: number;
  tile: number;
  mags: string[];
  workers: number;
  /** Where the generated slide is kept between runs, and the tiles written (removed after). */
  dir: string;
  /** Least time spent decoding for the raw rate. */
  decodeSeconds: number;
  compression?: PngCompression;
  onStatus?: (line: string) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface TileBenchResult {
  slide: { file: string; size: number; bytes: number; generatedSeconds: number | null; levelRead: string };
  tiles: number;
  compression: PngCompression;
  /** End to end (planning included). */
  seconds: number;
  tilesPerSecond: number;
  /** Level pixels under the tiles written, and level pixels the windows decoded (>= the former). */
  tileMegapixels: number;
  decodedMegapixels: number;
  megapixelsPerSecond: number;
  /** The tile phase only. */
  tileSeconds: number;
  tilePhaseTilesPerSecond: number;
  tilePhaseMegapixelsPerSecond: number;
  jpegDecodeMegapixelsPerSecond: number;
  /** Per CPU second: the tile phase, and the raw decode. */
  tilePhaseMegapixelsPerCpuSecond: number;
  jpegDecodeMegapixelsPerCpuSecond: number;
  ratioCpu: number;
  /** Tile phase MP/s over raw decode MP/s (the figure of merit), and end to end over raw decode. */
  ratio: number;
  ratioEndToEnd: number;
  /**
   * The file system's share: writing, in the tile folder, as many files as the tiler wrote
   * (same sizes, temporary file then rename, one thread), with no pixel work: ms per tile.
   */
  files: { msPerTile: number; cpuMsPerTile: number };
  /** Thread ms and bytes per tile (all magnifications) of the tile encoders on sample tiles of this slide. */
  encoders: { name: string; msPerTile: number; bytesPerTile: number }[];
  planSeconds: number;
  phaseMs: { decode: number; resample: number; encode: number; write: number };
  peakRssTilingMiB: number;
  peakRssPlanningMiB: number;
  peakRssCuttingMiB: number;
  peakRssProcessMiB: number;
  workers: number;
}

const MPP40 = 0.25;
const QUALITY = 80;

/** Generate the benchmark slide (libvips streams it: memory stays small), unless it exists. */
export async function generateBenchSlide(file: string, size: number): Promise<number | null> {
  if (existsSync(file)) return null;
  const t0 = performance.now();
  const rng = new Rng(1);
  const texture = renderTile({
    width: 1024,
    height: 1024,
    micronsPerPixel: MPP40,
    classes: CLASS_SETS.luad,
    classIndex: 0,
    knobs: DEFAULT_KNOBS,
    stain: drawSlideStain(rng),
    seed: 1,
  });
  const textureSharp = await sharp(texture.data, { raw: { width: 1024, height: 1024, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
  const glass = { r: 242, g: 240, b: 243 };
  const tmp = `${file}.tmp`;
  await sharp({ create: { width: size, height: size, channels: 3, background: glass }, limitInputPixels: false })
    .composite([
      { input: textureSharp, tile: true, top: 0, left: 0 },
      ...glassOverlays(size - Math.floor(size / 4), 0, Math.floor(size / 4), size, glass),
      ...glassOverlays(0, 0, size, Math.floor(size / 8), glass),
    ])
    .tiff({
      tile: true,
      tileWidth: 256,
      tileHeight: 256,
      pyramid: true,
      compression: 'jpeg',
      quality: QUALITY,
      xres: 1000 / MPP40,
      yres: 1000 / MPP40,
      resolutionUnit: 'cm',
      bigtiff: true,
    })
    .toFile(tmp);
  const { renameSync } = await import('node:fs');
  renameSync(tmp, file);
  return (performance.now() - t0) / 1000;
}

/**
 * Plain rectangles over [left, left + width) x [top, top + height), cut into bands below sharp's
 * input pixel limit (a generated overlay cannot lift it).
 */
function glassOverlays(left: number, top: number, width: number, height: number, background: { r: number; g: number; b: number }) {
  const band = Math.max(1, Math.floor(2e8 / width));
  const out = [];
  for (let y = 0; y < height; y += band)
    out.push({ input: { create: { width, height: Math.min(band, height - y), channels: 3 as const, background } }, left, top: top + y });
  return out;
}

export async function benchTile(o: TileBenchOptions): Promise<TileBenchResult> {
  mkdirSync(o.dir, { recursive: true });
  sharp.cache(false);
  const file = join(o.dir, `bench-slide-${o.size}.tif`);
  o.onStatus?.(existsSync(file) ? `using ${file}` : `generating a ${o.size} x ${o.size} slide at ${file} (once)...`);
  const generatedSeconds = await generateBenchSlide(file, o.size);

  // Raw decode rate: one JPEG of a region of the level the tiler reads, same quality.
  const slide = openSlide(file);
  const topMpp = 10 / Number(o.mags[0].replace(/x$/, ''));
  const level = levelFor(slide, topMpp);
  const side = Math.min(2048, level.width, level.height);
  const jpeg = await sharp(file, { page: level.page, limitInputPixels: false })
    .extract({ left: 0, top: Math.min(Math.floor(level.height / 8), level.height - side), width: side, height: side })
    .jpeg({ quality: QUALITY })
    .toBuffer();
  const parallel = Math.max(1, o.workers);
  const decode = { pixels: 0, seconds: 0, cpuSeconds: 0 };
  const decodeFor = async (seconds: number) => {
    const concurrency = sharp.concurrency();
    sharp.concurrency(1);
    const t0 = performance.now(),
      c0 = process.cpuUsage();
    while ((performance.now() - t0) / 1000 < seconds) {
      await Promise.all(Array.from({ length: parallel }, () => sharp(jpeg).raw().toBuffer()));
      decode.pixels += parallel * side * side;
    }
    const c = process.cpuUsage(c0);
    decode.seconds += (performance.now() - t0) / 1000;
    decode.cpuSeconds += (c.user + c.system) / 1e6;
    sharp.concurrency(concurrency);
  };
  await decodeFor(o.decodeSeconds / 2);

  const out = join(o.dir, 'tiles');
  rmSync(out, { recursive: true, force: true });
  // Peaks while planning (thumbnail, mask) and while cutting tiles: the first progress call ends planning.
  const peaks = { plan: process.memoryUsage().rss, tiles: 0 };
  let phase: keyof typeof peaks = 'plan';
  const sample = () => {
    peaks[phase] = Math.max(peaks[phase], process.memoryUsage().rss);
  };
  const sampler = setInterval(sample, 20);
  let result;
  try {
    result = await tileSlides({
      slides: [file],
      out,
      mags: o.mags,
      tile: o.tile,
      workers: o.workers,
      compression: o.compression ?? 'none',
      minTissue: 0.5,
      onProgress: (done, total) => {
        sample();
        phase = 'tiles';
        o.onProgress?.(done, total);
      },
    });
  } finally {
    clearInterval(sampler);
  }
  sample();
  const peak = Math.max(peaks.plan, peaks.tiles);
  const files = fileFloor(out, result.manifest.tiles.length, o.mags.length);
  rmSync(out, { recursive: true, force: true });

  await decodeFor(o.decodeSeconds / 2);
  const jpegRate = decode.pixels / 1e6 / decode.seconds;
  const jpegRateCpu = decode.pixels / 1e6 / decode.cpuSeconds;
  const tilePhaseRateCpu = result.tilePixels / 1e6 / result.tileCpuSeconds;
  const endToEndRate = result.tilePixels / 1e6 / result.seconds;
  const tilePhaseRate = result.tilePixels / 1e6 / result.tileSeconds;
  const encoders = await compareEncoders(slide, level, o.tile, o.mags);
  return {
    slide: {
      file,
      size: o.size,
      bytes: statSync(file).size,
      generatedSeconds,
      levelRead: `${level.width}x${level.height} (downsample ${level.downsample})`,
    },
    tiles: result.written,
    compression: o.compression ?? 'none',
    seconds: result.seconds,
    tilesPerSecond: result.written / result.seconds,
    tileMegapixels: result.tilePixels / 1e6,
    decodedMegapixels: result.decodedPixels / 1e6,
    megapixelsPerSecond: endToEndRate,
    tileSeconds: result.tileSeconds,
    tilePhaseTilesPerSecond: result.written / result.tileSeconds,
    tilePhaseMegapixelsPerSecond: tilePhaseRate,
    jpegDecodeMegapixelsPerSecond: jpegRate,
    ratio: tilePhaseRate / jpegRate,
    tilePhaseMegapixelsPerCpuSecond: tilePhaseRateCpu,
    jpegDecodeMegapixelsPerCpuSecond: jpegRateCpu,
    ratioCpu: tilePhaseRateCpu / jpegRateCpu,
    ratioEndToEnd: endToEndRate / jpegRate,
    encoders,
    files,
    planSeconds: result.planSeconds,
    phaseMs: result.phaseMs,
    peakRssTilingMiB: peak / 2 ** 20,
    peakRssPlanningMiB: peaks.plan / 2 ** 20,
    peakRssCuttingMiB: peaks.tiles / 2 ** 20,
    peakRssProcessMiB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20,
    workers: o.workers,
  };
}

/** Write `tiles` x `mags` files the sizes of those under `out` (temporary + rename), timed: see TileBenchResult.files. */
function fileFloor(out: string, tiles: number, mags: number): TileBenchResult['files'] {
  const sizes = readdirSync(out)
    .filter((d) => /^[0-9.]+x$/.test(d))
    .map((d) => {
      const dir = join(out, d, 'unlabeled');
      const names = readdirSync(dir);
      return names.length ? statSync(join(dir, names[0])).size : 0;
    });
  const bytes = sizes.map((n) => Buffer.alloc(n, 1));
  const scratch = join(out, 'file-floor');
  const dirs = bytes.map((_, i) => join(scratch, String(i)));
  for (const d of [...dirs, join(scratch, 'partial')]) mkdirSync(d, { recursive: true });
  const t0 = performance.now(),
    c0 = process.cpuUsage();
  for (let t = 0; t < tiles; t++)
    for (let m = 0; m < Math.min(mags, bytes.length); m++) {
      const tmp = join(scratch, 'partial', `${t}-${m}.tmp`);
      writeFileSync(tmp, bytes[m]);
      renameSync(tmp, join(dirs[m], `tile_x${t}_y${t}.png`));
    }
  const c = process.cpuUsage(c0);
  return { msPerTile: (performance.now() - t0) / Math.max(1, tiles), cpuMsPerTile: (c.user + c.system) / 1e3 / Math.max(1, tiles) };
}

/**
 * Encode sample tiles of the slide (with their lower magnifications) with sharp's PNG encoder as
 * the tiler used it before (deflate level 2, no filtering) and with png.ts in each mode: thread
 * milliseconds and bytes per tile, in this run.
 */
async function compareEncoders(slide: Slide, level: SlideLevel, tile: number, mags: string[]): Promise<TileBenchResult['encoders']> {
  const top = requireMag(mags[0], '--mags');
  const factors = mags.map((m) => downsampleFactor(top, requireMag(m, '--mags')));
  // Level pixels per tile pixel, as the tiler computes it (the bench passes no --mpp).
  const factor = 10 / top.value / levelMpp(slide, level);
  const span = tile * factor;
  const count = 8;
  const samples: RgbImage[][] = [];
  for (let k = 0; k < count; k++) {
    // Tiles along the diagonal below the glass band: tissue.
    const x = Math.floor(((k + 1) * (level.width * 0.7 - span)) / (count + 1));
    const y = Math.floor(level.height / 8 + ((k + 1) * (level.height * 0.85 - span)) / (count + 1));
    const region = await readRegion(slide, level, x, y, Math.ceil(span), Math.ceil(span));
    samples.push(areaPyramid(areaResample(region, 0, 0, factor, tile, tile), factors));
  }
  const encoders: [string, (img: RgbImage) => Promise<Uint8Array> | Uint8Array][] = [
    ['sharp png level 2 (before)', (img) => encodeTilePngSharp(img)],
    ...PNG_COMPRESSIONS.map(
      (c) =>
        [`png.ts ${c}`, (img: RgbImage) => encodeRgbPng(img.data, img.width, img.height, c)] as [string, (img: RgbImage) => Uint8Array],
    ),
  ];
  const out: TileBenchResult['encoders'] = [];
  for (const [name, encode] of encoders) {
    let bytes = 0;
    for (const s of samples) for (const img of s) await encode(img); // warm-up
    const t0 = performance.now();
    for (const s of samples) for (const img of s) bytes += (await encode(img)).length;
    out.push({ name, msPerTile: (performance.now() - t0) / count, bytesPerTile: bytes / count });
  }
  return out;
}

export function formatTileBench(r: TileBenchResult): string {
  return [
    `slide ${r.slide.size} x ${r.slide.size} at 0.25 um/px, ${(r.slide.bytes / 2 ** 20).toFixed(0)} MiB JPEG q${QUALITY} pyramid${r.slide.generatedSeconds !== null ? ` (generated in ${r.slide.generatedSeconds.toFixed(1)} s)` : ''}; level read ${r.slide.levelRead}`,
    `tiling (${r.workers} worker(s), PNG compression '${r.compression}'): ${r.tiles} tiles, ${r.tileMegapixels.toFixed(1)} MP of the level under them (${r.decodedMegapixels.toFixed(1)} MP decoded)`,
    `  tile phase: ${r.tileSeconds.toFixed(2)} s = ${r.tilePhaseTilesPerSecond.toFixed(1)} tiles/s = ${r.tilePhaseMegapixelsPerSecond.toFixed(1)} MP/s`,
    `  end to end: ${r.seconds.toFixed(2)} s = ${r.tilesPerSecond.toFixed(1)} tiles/s = ${r.megapixelsPerSecond.toFixed(1)} MP/s, of which planning (open, thumbnail, mask; workers start meanwhile) ${r.planSeconds.toFixed(2)} s`,
    `  per tile, thread time: ${Object.entries(r.phaseMs)
      .map(([k, v]) => `${k} ${(v / Math.max(1, r.tiles)).toFixed(2)} ms`)
      .join(', ')}`,
    `raw JPEG decode (sharp, ${Math.max(1, r.workers)} at a time): ${r.jpegDecodeMegapixelsPerSecond.toFixed(1)} MP/s, ${r.jpegDecodeMegapixelsPerCpuSecond.toFixed(1)} MP per CPU second (tile phase: ${r.tilePhaseMegapixelsPerCpuSecond.toFixed(1)})`,
    `tiling / decode: ${(100 * r.ratio).toFixed(0)}% over the tile phase (target >= 50%), ${(100 * r.ratioEndToEnd).toFixed(0)}% end to end; per CPU second ${(100 * r.ratioCpu).toFixed(0)}%`,
    `file system alone (the tiler's files, same sizes, temporary + rename, one thread, no pixel work): ${r.files.msPerTile.toFixed(2)} ms per tile, ${r.files.cpuMsPerTile.toFixed(2)} CPU ms; raw decode of a tile's level pixels: ${((1e3 * r.tileMegapixels) / r.tiles / r.jpegDecodeMegapixelsPerCpuSecond).toFixed(2)} CPU ms`,
    `encoders on sample tiles (all magnifications, one thread): ${r.encoders.map((e) => `${e.name} ${e.msPerTile.toFixed(2)} ms ${(e.bytesPerTile / 1024).toFixed(0)} KiB`).join('; ')}`,
    `peak RSS while tiling ${r.peakRssTilingMiB.toFixed(0)} MiB (sampled every 20 ms; planning ${r.peakRssPlanningMiB.toFixed(0)}, cutting tiles ${r.peakRssCuttingMiB.toFixed(0)}), process lifetime peak ${r.peakRssProcessMiB.toFixed(0)} MiB (target < 1024)`,
  ].join('\n');
}
