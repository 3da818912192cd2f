/**
 * One unit of tiling work: a window of neighbouring tiles of one slide. The window's region of
 * the chosen pyramid level is decoded once (one `extract`, so TIFF tiles shared by neighbouring
 * output tiles are decoded once), each tile is area-resampled from it to the top
 * magnification, area-downsampled from that to every lower magnification, encoded as PNG and
 * written atomically: into DIR/.partial first, then renamed into place, lowest magnification
 * first and the top one last, so a tile whose top file exists is complete.
 * Runs in a worker thread or in the main thread.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import sharp from 'sharp';
import type { RgbImage } from '../image.ts';
import { encodeRgbPng, type PngCompression } from './png.ts';
import { areaPyramid, areaResample, asView, viewOf, type RgbView } from './resample.ts';
import { readRegion, type Slide, type SlideLevel } from './slide.ts';

/** What every job of a run shares. */
export interface TileRunConfig {
  out: string;
  /** Tile side at the top magnification. */
  tile: number;
  /** Magnification folders, top first, with their factor below the top (1, 2, 4, ...). */
  mags: { name: string; factor: number }[];
  /** PNG compression of the tiles (default 'none': stored deflate, see png.ts). */
  compression?: PngCompression;
}

export interface WindowJob {
  slide: Slide;
  level: SlideLevel;
  /** Region of the level to decode. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Level pixels per top-magnification pixel. */
  factor: number;
  tiles: {
    /** Path below each magnification folder, e.g. `train/tumour/S1_x4096_y8192.png`. */
    relPath: string;
    /** The tile's top-left corner in level pixels, relative to the region (may be fractional). */
    sx: number;
    sy: number;
  }[];
}

/** Tiles written, level pixels decoded, and milliseconds spent per phase (this thread). */
export interface WindowResult {
  tiles: number;
  decodedPixels: number;
  ms: { decode: number; resample: number; encode: number; write: number };
}

export async function runWindowJob(config: TileRunConfig, job: WindowJob, partialDir: string): Promise<WindowResult> {
  const ms = { decode: 0, resample: 0, encode: 0, write: 0 };
  let clock = performance.now();
  const lap = (phase: keyof typeof ms) => {
    const now = performance.now();
    ms[phase] += now - clock;
    clock = now;
  };
  const compression = config.compression ?? 'none';
  const factors = config.mags.map((m) => m.factor);
  const region = await readRegion(job.slide, job.level, job.x, job.y, job.width, job.height);
  lap('decode');
  for (const t of job.tiles) {
    // At factor 1 on whole pixels the top image is the window's own pixels: a view, no copy.
    const top: RgbView =
      job.factor === 1 && Number.isInteger(t.sx) && Number.isInteger(t.sy)
        ? viewOf(region, t.sx, t.sy, config.tile, config.tile)
        : asView(areaResample(region, t.sx, t.sy, job.factor, config.tile, config.tile));
    const levels = areaPyramid(top, factors).map(asView);
    lap('resample');
    const files = levels.map((v) => encodeRgbPng(v.data, v.width, v.height, compression, v.stride, v.offset));
    lap('encode');
    writeTile(config, t.relPath, files, partialDir);
    lap('write');
  }
  return { tiles: job.tiles.length, decodedPixels: job.width * job.height, ms };
}

/**
 * A tile's files, lowest magnification first and the top last (mags are top first): the top
 * file's presence marks a complete tile. Synchronous: the jobs run in worker threads that do
 * nothing else, and a blocking write + rename costs a fraction of the thread-pool round trips
 * of the promise API (see the commit that made it so for figures).
 */
function writeTile(config: TileRunConfig, relPath: string, files: Uint8Array[], partialDir: string): void {
  for (let i = config.mags.length - 1; i >= 0; i--) writeAtomic(join(config.out, config.mags[i].name, relPath), files[i], partialDir);
}

/**
 * PNG for tiles through sharp (deflate level 2, no adaptive filtering, no metadata): the encoder
 * the tiler used before data/slide/png.ts, kept for comparison in the benchmark.
 */
export function encodeTilePngSharp(img: RgbImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 2, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

let serial = 0;
/** Folders this thread has already made. */
const made = new Set<string>();

/**
 * Write to a temporary file in `partialDir` (same file system), then rename into place, so the
 * file at `path` is either absent or complete. Synchronous (see writeTile).
 */
export function writeAtomic(path: string, bytes: Uint8Array, partialDir: string): void {
  const dir = dirname(path);
  if (!made.has(dir)) {
    mkdirSync(dir, { recursive: true });
    made.add(dir);
  }
  // Worker threads share the pid; their thread ids keep temporary names apart.
  const tmp = join(partialDir, `${process.pid}-${threadId}-${serial++}.tmp`);
  writeFileSync(tmp, bytes);
  try {
    renameSync(tmp, path);
  } catch (e) {
    // The folder was removed since this thread made it (a new run into a fresh folder).
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(dir, { recursive: true });
    renameSync(tmp, path);
  }
}
