/**
 * One unit of generation work: render a tile at the top magnification, area-downsample it to
 * every lower magnification (from the top level each time, so each level is the exact block
 * mean of the rendered pixels), encode each level as PNG and write it. Runs in a worker thread
 * or in the main thread; its output depends only on the job and the run's config.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../../engine/random.ts';
import { areaDownsample, encodePng, type RgbImage } from '../image.ts';
import { CLASS_SETS, type ClassSetName } from './classes.ts';
import { hashSeed } from '../seed.ts';
import { drawSlideStain, renderTile, type RenderKnobs } from './render.ts';

/** What every job of a run shares (sent once to each worker). */
export interface RunConfig {
  out: string;
  seed: number;
  classSet: ClassSetName;
  tile: number;
  /** Microns per pixel at the top magnification. */
  micronsPerPixel: number;
  /** Folder name and downsampling factor from the top, top first (factor 1). */
  levels: { name: string; factor: number }[];
  knobs: RenderKnobs;
  /** Slides per split: tiles of a split are spread over this many stainings. */
  slides: number;
}

export const SPLITS = ['train', 'val', 'test', 'unlabeled'] as const;
export type SplitName = (typeof SPLITS)[number];

export interface TileJob {
  split: SplitName;
  /** Index of the tile within its split (and class, for labelled splits). */
  index: number;
  classIndex: number;
  /** Path below each magnification folder, e.g. `train/acinar/acinar_00003.png`. */
  relPath: string;
}

/**
 * Per level: integer sums over the tile's pixels of each channel and of its square (in grey
 * levels), [sumR, sumG, sumB, sqR, sqG, sqB]. Integers, so totals do not depend on the order
 * in which workers finish.
 */
export type TileSums = number[][];

export async function runTileJob(config: RunConfig, job: TileJob): Promise<TileSums> {
  const splitIndex = SPLITS.indexOf(job.split);
  const classes = CLASS_SETS[config.classSet];
  const slide = hashSeed(config.seed, splitIndex, job.classIndex, job.index, 0x511de) % config.slides;
  const stain = drawSlideStain(new Rng(hashSeed(config.seed, splitIndex, slide, 0x57a1)));
  const top = renderTile({
    width: config.tile,
    height: config.tile,
    micronsPerPixel: config.micronsPerPixel,
    classes,
    classIndex: job.classIndex,
    knobs: config.knobs,
    stain,
    seed: hashSeed(config.seed, splitIndex, job.classIndex, job.index),
  });
  const sums: TileSums = [];
  await Promise.all(
    config.levels.map(async (level, i) => {
      const img = areaDownsample(top, level.factor);
      sums[i] = channelSums(img);
      const path = join(config.out, level.name, job.relPath);
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, await encodePng(img));
    }),
  );
  return sums;
}

function channelSums(img: RgbImage): number[] {
  const s = [0, 0, 0, 0, 0, 0];
  const d = img.data;
  for (let p = 0; p < d.length; p += 3) {
    for (let c = 0; c < 3; c++) {
      const v = d[p + c];
      s[c] += v;
      s[3 + c] += v * v;
    }
  }
  return s;
}
