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
 *   - tiling: tileSlides() end to end (plan, mask, decode, resample, PNG encode, atomic writes)
 *     with `workers` threads: tiles/s and decoded megapixels/s, the pixels of the level regions
 *     decoded (the level nearest above the target: for 10x from 40x, the 4x level);
 *   - peak resident memory during tiling, sampled every 20 ms, and the process's lifetime peak
 *     (which also covers generating the slide);
 *   - raw JPEG decode: a 2048 x 2048 region of the same level encoded as one JPEG at the same
 *     quality, decoded by sharp `workers` at a time (sharp concurrency 1, as in the tiler's
 *     workers) for at least `decodeSeconds`: megapixels/s.
 * The ratio tiling MP/s / decode MP/s is the figure of merit (target >= 0.5, memory < 1 GiB).
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../engine/random.ts';
import { CLASS_SETS } from '../data/synth/classes.ts';
import { DEFAULT_KNOBS, drawSlideStain, renderTile } from '../data/synth/render.ts';
import { openSlide, levelFor } from '../data/slide/slide.ts';
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
  onStatus?: (line: string) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface TileBenchResult {
  slide: { file: string; size: number; bytes: number; generatedSeconds: number | null; levelRead: string };
  tiles: number;
  seconds: number;
  tilesPerSecond: number;
  decodedMegapixels: number;
  decodedMegapixelsPerSecond: number;
  jpegDecodeMegapixelsPerSecond: number;
  ratio: number;
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
  rmSync(out, { recursive: true, force: true });

  // Raw decode rate: one JPEG of a region of the level the tiler read, same quality.
  const slide = openSlide(file);
  const topMpp = 10 / Number(o.mags[0].replace(/x$/, ''));
  const level = levelFor(slide, topMpp);
  const side = Math.min(2048, level.width, level.height);
  const jpeg = await sharp(file, { page: level.page, limitInputPixels: false })
    .extract({ left: 0, top: Math.min(Math.floor(level.height / 8), level.height - side), width: side, height: side })
    .jpeg({ quality: QUALITY })
    .toBuffer();
  sharp.concurrency(1);
  const parallel = Math.max(1, o.workers);
  let decoded = 0;
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < o.decodeSeconds) {
    await Promise.all(Array.from({ length: parallel }, () => sharp(jpeg).raw().toBuffer()));
    decoded += parallel * side * side;
  }
  const decodeSeconds = (performance.now() - t0) / 1000;
  const jpegRate = decoded / 1e6 / decodeSeconds;
  const tilingRate = result.decodedPixels / 1e6 / result.seconds;
  return {
    slide: {
      file,
      size: o.size,
      bytes: statSync(file).size,
      generatedSeconds,
      levelRead: `${level.width}x${level.height} (downsample ${level.downsample})`,
    },
    tiles: result.written,
    seconds: result.seconds,
    tilesPerSecond: result.written / result.seconds,
    decodedMegapixels: result.decodedPixels / 1e6,
    decodedMegapixelsPerSecond: tilingRate,
    jpegDecodeMegapixelsPerSecond: jpegRate,
    ratio: tilingRate / jpegRate,
    planSeconds: result.planSeconds,
    phaseMs: result.phaseMs,
    peakRssTilingMiB: peak / 2 ** 20,
    peakRssPlanningMiB: peaks.plan / 2 ** 20,
    peakRssCuttingMiB: peaks.tiles / 2 ** 20,
    peakRssProcessMiB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20,
    workers: o.workers,
  };
}

export function formatTileBench(r: TileBenchResult): string {
  return [
    `slide ${r.slide.size} x ${r.slide.size} at 0.25 um/px, ${(r.slide.bytes / 2 ** 20).toFixed(0)} MiB JPEG q${QUALITY} pyramid${r.slide.generatedSeconds !== null ? ` (generated in ${r.slide.generatedSeconds.toFixed(1)} s)` : ''}; level read ${r.slide.levelRead}`,
    `tiling (${r.workers} worker(s)): ${r.tiles} tiles in ${r.seconds.toFixed(1)} s = ${r.tilesPerSecond.toFixed(1)} tiles/s, ${r.decodedMegapixels.toFixed(1)} MP decoded = ${r.decodedMegapixelsPerSecond.toFixed(1)} MP/s`,
    `  of which planning (open, thumbnail, mask) ${r.planSeconds.toFixed(1)} s; per tile, thread time: ${Object.entries(r.phaseMs)
      .map(([k, v]) => `${k} ${(v / Math.max(1, r.tiles)).toFixed(2)} ms`)
      .join(', ')}`,
    `raw JPEG decode (sharp, ${Math.max(1, r.workers)} at a time): ${r.jpegDecodeMegapixelsPerSecond.toFixed(1)} MP/s`,
    `tiling / decode: ${(100 * r.ratio).toFixed(0)}% (target >= 50%)`,
    `peak RSS while tiling ${r.peakRssTilingMiB.toFixed(0)} MiB (sampled every 20 ms; planning ${r.peakRssPlanningMiB.toFixed(0)}, cutting tiles ${r.peakRssCuttingMiB.toFixed(0)}), process lifetime peak ${r.peakRssProcessMiB.toFixed(0)} MiB (target < 1024)`,
  ].join('\n');
}
