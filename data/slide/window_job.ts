/**
 * One unit of tiling work: a window of neighbouring tiles of one slide. The window's region of
 * the chosen pyramid level is decoded once (one `extract`, so TIFF tiles shared by neighbouring
 * output tiles are decoded once), each tile is area-resampled from it to the top
 * magnification, area-downsampled from that to every lower magnification, encoded as PNG and
 * written atomically: into DIR/.partial first, then renamed into place, lowest magnification
 * first and the top one last, so a tile whose top file exists is complete.
 * Runs in a worker thread or in the main thread.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { areaDownsample, encodePng, type RgbImage } from '../image.ts';
import { areaResample } from './resample.ts';
import { readRegion, type Slide, type SlideLevel } from './slide.ts';

/** What every job of a run shares. */
export interface TileRunConfig {
  out: string;
  /** Tile side at the top magnification. */
  tile: number;
  /** Magnification folders, top first, with their factor below the top (1, 2, 4, ...). */
  mags: { name: string; factor: number }[];
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

export interface WindowResult { tiles: number; decodedPixels: number }

export async function runWindowJob(config: TileRunConfig, job: WindowJob, partialDir: string): Promise<WindowResult> {
  const region = await readRegion(job.slide, job.level, job.x, job.y, job.width, job.height);
  for (const t of job.tiles) {
    const top = areaResample(region, t.sx, t.sy, job.factor, config.tile, config.tile);
    // Lowest magnification first, the top last: the top file's presence marks a complete tile.
    for (let i = config.mags.length - 1; i >= 0; i--) {
      const m = config.mags[i];
      const img: RgbImage = m.factor === 1 ? top : areaDownsample(top, m.factor);
      await writeAtomic(join(config.out, m.name, t.relPath), await encodePng(img), partialDir);
    }
  }
  return { tiles: job.tiles.length, decodedPixels: job.width * job.height };
}

let serial = 0;

/** Write to a temporary file in `partialDir` (same file system), then rename into place. */
export async function writeAtomic(path: string, bytes: Uint8Array, partialDir: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Worker threads share the pid; their thread ids keep temporary names apart.
  const tmp = join(partialDir, `${process.pid}-${threadId}-${serial++}.tmp`);
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}
