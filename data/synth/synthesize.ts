/**
 * `synthesize(opts)`: generate a synthetic H&E data set in the ImageFolder layout
 *
 *   OUT/<mag>/{train,val,test}/<class>/<class>_NNNNN.png   (N tiles per class)
 *   OUT/<mag>/unlabeled/tile_NNNNN.png                     (classes hidden)
 *   OUT/manifest.json
 *
 * Every tile is rendered once at the top magnification and each lower magnification is its
 * area downsample (tile_job.ts). Jobs are spread over worker threads; each tile's pixels
 * depend only on (seed, split, class, index), so output is byte-identical for the same seed
 * and flags whatever the number of workers or the order they finish in.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm, writeFile, mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DataError } from '../errors.ts';
import { byDescendingMag, downsampleFactor, requireMag, magName } from '../mag.ts';
import { CLASS_SETS, type ClassSetName } from './classes.ts';
import { hashSeed } from '../seed.ts';
import { DEFAULT_KNOBS, type RenderKnobs } from './render.ts';
import { runTileJob, SPLITS, type RunConfig, type SplitName, type TileJob, type TileSums } from './tile_job.ts';

/** Bumped whenever the same seed and flags would give different pixels. */
export const GENERATOR_VERSION = 2;
export const GENERATOR_NAME = 'rbd-synth';

export interface SynthOptions {
  out: string;
  seed?: number; // default 0
  /** Tiles per class in each labelled split. */
  train?: number; // default 100
  val?: number; // default 20
  test?: number; // default 20
  /** Tiles in the unlabelled pool (in total). */
  unlabeled?: number; // default 0
  /** Tile side in pixels at the top magnification. */
  tile?: number; // default 256
  /** Magnification names; the highest is rendered, the others downsampled from it. */
  mags?: string[]; // default 10x,5x,2.5x,1.25x,0.625x
  classes?: ClassSetName; // default luad
  /** Microns per pixel at the top magnification (default 10 / top magnification: 1.0 at 10x). */
  micronsPerPixel?: number;
  knobs?: Partial<RenderKnobs>;
  slides?: number; // default 12
  /** Worker threads (default: available cores); 0 renders on the calling thread. */
  workers?: number;
  /** Replace an earlier rbd-synth output in `out` (never anything else). */
  overwrite?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface ChannelStats {
  mean: [number, number, number];
  std: [number, number, number];
}

export interface Manifest {
  generator: string;
  version: number;
  seed: number;
  classSet: ClassSetName;
  classes: string[];
  tile: number;
  magnifications: { name: string; value: number; micronsPerPixel: number; tile: number; factor: number }[];
  counts: {
    train: number;
    val: number;
    test: number;
    unlabeled: number;
    perClass: Record<'train' | 'val' | 'test', Record<string, number>>;
  };
  knobs: RenderKnobs;
  slides: number;
  /** Per magnification: per-channel mean and (population) std of the training split, pixel values scaled to [0, 1]. */
  stats: Record<string, ChannelStats>;
}

export const DEFAULT_MAGS = ['10x', '5x', '2.5x', '1.25x', '0.625x'];

export interface SynthResult {
  manifest: Manifest;
  tiles: number;
  /** Wall time of the generation. */
  seconds: number;
  tilesPerMinute: number;
  /** CPU time of the whole process (all threads) during the generation: divided by the tiles, a rate that does not depend on what else the machine runs. */
  cpuSeconds: number;
}

export async function synthesize(opts: SynthOptions): Promise<SynthResult> {
  const config = resolveConfig(opts);
  const classes = CLASS_SETS[config.classSet].map((c) => c.name);
  const counts = { train: opts.train ?? 100, val: opts.val ?? 20, test: opts.test ?? 20, unlabeled: opts.unlabeled ?? 0 };
  for (const [k, v] of Object.entries(counts)) {
    if (!Number.isInteger(v) || v < 0) throw new DataError(`synthesize: --${k} must be a whole number >= 0, got ${v}`);
  }
  await prepareOut(config.out, opts.overwrite ?? false);

  const jobs = listJobs(config, classes, counts);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const sums = await runJobs(config, jobs, opts.workers ?? availableParallelism(), opts.onProgress);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  const manifest: Manifest = {
    generator: GENERATOR_NAME,
    version: GENERATOR_VERSION,
    seed: config.seed,
    classSet: config.classSet,
    classes,
    tile: config.tile,
    magnifications: config.levels.map((l) => ({
      name: l.name,
      value: requireMag(l.name, 'synthesize').value,
      micronsPerPixel: config.micronsPerPixel * l.factor,
      tile: config.tile / l.factor,
      factor: l.factor,
    })),
    counts: {
      ...counts,
      train: counts.train * classes.length,
      val: counts.val * classes.length,
      test: counts.test * classes.length,
      perClass: perClass(classes, counts),
    },
    knobs: config.knobs,
    slides: config.slides,
    stats: trainStats(config, jobs, sums),
  };
  if (counts.unlabeled > 0) {
    const truth = Object.fromEntries(
      jobs
        .filter((j) => j.split === 'unlabeled')
        .map((j) => [j.relPath.slice('unlabeled/'.length).replace(/\.png$/, ''), classes[j.classIndex]]),
    );
    await writeFile(join(config.out, HIDDEN_LABELS_FILE), JSON.stringify(truth, null, 1) + '\n');
  }
  await writeFile(join(config.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { manifest, tiles: jobs.length, seconds, tilesPerMinute: (jobs.length / Math.max(seconds, 1e-9)) * 60, cpuSeconds };
}

function resolveConfig(opts: SynthOptions): RunConfig {
  const classSet = opts.classes ?? 'luad';
  if (!Object.hasOwn(CLASS_SETS, classSet))
    throw new DataError(`synthesize: unknown class set '${classSet}'; use one of ${Object.keys(CLASS_SETS).join(', ')}`);
  const mags = (opts.mags ?? DEFAULT_MAGS).map((m) => requireMag(m, 'synthesize --mags')).sort(byDescendingMag);
  if (mags.length === 0) throw new DataError('synthesize: --mags lists no magnification');
  if (new Set(mags.map((m) => m.value)).size !== mags.length)
    throw new DataError(`synthesize: --mags lists a magnification twice (${mags.map((m) => m.name).join(',')})`);
  const tile = opts.tile ?? 256;
  const levels = mags.map((m) => ({ name: magName(m.value), factor: downsampleFactor(mags[0], m) }));
  const deepest = levels[levels.length - 1].factor;
  if (!Number.isInteger(tile) || tile < 1 || tile % deepest !== 0) {
    throw new DataError(
      `synthesize: --tile ${tile} must be a whole multiple of ${deepest}, the factor from ${levels[0].name} down to ${levels[levels.length - 1].name}, so every level has whole pixels`,
    );
  }
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new DataError(`synthesize: --seed must be a whole number in [0, 2^32), got ${seed}`);
  const knobs = { ...DEFAULT_KNOBS, ...opts.knobs };
  for (const [k, v] of Object.entries(knobs)) {
    if (!Number.isFinite(v) || v < 0 || (k === 'architectureFidelity' && v > 1))
      throw new DataError(`synthesize: knob ${k} must be a number >= 0${k === 'architectureFidelity' ? ' and <= 1' : ''}, got ${v}`);
  }
  const slides = opts.slides ?? 12;
  if (!Number.isInteger(slides) || slides < 1) throw new DataError(`synthesize: slides must be a whole number >= 1, got ${slides}`);
  return { out: opts.out, seed, classSet, tile, micronsPerPixel: opts.micronsPerPixel ?? 10 / mags[0].value, levels, knobs, slides };
}

/**
 * The output folder must be new or empty, or hold an earlier rbd-synth output and `overwrite`
 * be set; then only the folders that output's manifest names, and the manifest, are removed.
 */
async function prepareOut(out: string, overwrite: boolean): Promise<void> {
  if (existsSync(out) && readdirSync(out).length > 0) {
    const manifestPath = join(out, 'manifest.json');
    let previous: Manifest | null = null;
    try {
      previous = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    } catch {
      previous = null;
    }
    if (!previous || previous.generator !== GENERATOR_NAME) {
      throw new DataError(`synthesize: output folder ${out} is not empty and holds no rbd-synth manifest; choose a new or empty folder`);
    }
    if (!overwrite)
      throw new DataError(`synthesize: ${out} already holds a generated data set; pass --overwrite to replace it, or choose another --out`);
    for (const m of previous.magnifications) await rm(join(out, m.name), { recursive: true, force: true });
    await rm(join(out, HIDDEN_LABELS_FILE), { force: true });
    await rm(manifestPath, { force: true });
  }
  await mkdir(out, { recursive: true });
}

function listJobs(config: RunConfig, classes: string[], counts: Record<SplitName, number>): TileJob[] {
  const jobs: TileJob[] = [];
  const pad = (i: number) => String(i).padStart(5, '0');
  for (const split of ['train', 'val', 'test'] as const) {
    classes.forEach((name, classIndex) => {
      for (let index = 0; index < counts[split]; index++)
        jobs.push({ split, index, classIndex, relPath: `${split}/${name}/${name}_${pad(index)}.png` });
    });
  }
  for (let index = 0; index < counts.unlabeled; index++) {
    const classIndex = hiddenClassOf(config.seed, index, classes.length);
    jobs.push({ split: 'unlabeled', index, classIndex, relPath: `unlabeled/tile_${pad(index)}.png` });
  }
  return jobs;
}

/** The hidden class of unlabelled tile `index`: uniform over the classes, fixed by the seed. */
export function hiddenClassOf(seed: number, index: number, classCount: number): number {
  return hashSeed(seed, SPLITS.indexOf('unlabeled'), index, 0xc1a55) % classCount;
}

/**
 * The file beside manifest.json that records the unlabelled pool's true classes (tile key ->
 * class name). Only the study's ceiling arm reads it; training arms never do. Real data has no
 * such file, and the ceiling arm is then omitted.
 */
export const HIDDEN_LABELS_FILE = 'unlabeled_truth.json';

function perClass(classes: string[], counts: Record<SplitName, number>) {
  const per = (n: number) => Object.fromEntries(classes.map((c) => [c, n]));
  return { train: per(counts.train), val: per(counts.val), test: per(counts.test) };
}

/** Mean and std per channel of the training tiles at each level, from exact integer sums. */
function trainStats(config: RunConfig, jobs: TileJob[], sums: TileSums[]): Record<string, ChannelStats> {
  const stats: Record<string, ChannelStats> = {};
  config.levels.forEach((level, li) => {
    const total = [0, 0, 0, 0, 0, 0];
    let pixels = 0;
    jobs.forEach((job, j) => {
      if (job.split !== 'train') return;
      for (let k = 0; k < 6; k++) total[k] += sums[j][li][k];
      pixels += (config.tile / level.factor) ** 2;
    });
    const mean: [number, number, number] = [0, 0, 0];
    const std: [number, number, number] = [0, 0, 0];
    for (let c = 0; c < 3 && pixels > 0; c++) {
      const m = total[c] / pixels;
      mean[c] = m / 255;
      std[c] = Math.sqrt(Math.max(0, total[3 + c] / pixels - m * m)) / 255;
    }
    stats[level.name] = { mean, std };
  });
  return stats;
}

/** Batches of this many jobs go to a worker at a time (fewer messages, still balanced). */
const BATCH = 4;

async function runJobs(
  config: RunConfig,
  jobs: TileJob[],
  workers: number,
  onProgress?: (done: number, total: number) => void,
): Promise<TileSums[]> {
  const sums: TileSums[] = new Array(jobs.length);
  let done = 0;
  onProgress?.(0, jobs.length);
  if (workers <= 0 || jobs.length <= BATCH) {
    for (let j = 0; j < jobs.length; j++) {
      sums[j] = await runTileJob(config, jobs[j]);
      onProgress?.(++done, jobs.length);
    }
    return sums;
  }
  const pool = Array.from({ length: Math.min(workers, Math.ceil(jobs.length / BATCH)) }, () => spawnWorker(config));
  let next = 0;
  try {
    await Promise.all(
      pool.map(async (worker) => {
        while (next < jobs.length) {
          const start = next;
          next = Math.min(jobs.length, next + BATCH);
          const batchSums = await request(worker, start, jobs.slice(start, next));
          batchSums.forEach((s, k) => (sums[start + k] = s));
          done += batchSums.length;
          onProgress?.(done, jobs.length);
        }
      }),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return sums;
}

function request(worker: Worker, id: number, jobs: TileJob[]): Promise<TileSums[]> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { id: number; sums?: TileSums[]; error?: string }) => {
      if (m.id !== id) return;
      worker.off('message', onMessage);
      worker.off('error', onError);
      if (m.error !== undefined) reject(new DataError(`synthesize: ${m.error}`));
      else resolve(m.sums!);
    };
    const onError = (e: Error) => {
      worker.off('message', onMessage);
      reject(new DataError(`synthesize: a worker thread failed: ${e.message}`));
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.postMessage({ id, jobs });
  });
}

/**
 * Start a generator worker. From source (run through tsx) the worker is worker.ts and must
 * register tsx's loader before importing it; from the bundled CLI it is synth-worker.js next
 * to the bundle (see scripts/build.mjs).
 */
function spawnWorker(config: RunConfig): Worker {
  const source = new URL('./worker.ts', import.meta.url);
  if (existsSync(fileURLToPath(source))) {
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source.href)}); })`;
    return new Worker(boot, { eval: true, workerData: config });
  }
  const bundled = new URL('./synth-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(bundled))) {
    throw new DataError(
      `synthesize: worker script not found (looked for ${fileURLToPath(source)} and ${fileURLToPath(bundled)}); rebuild with 'npm run build', or pass --workers 0`,
    );
  }
  return new Worker(bundled, { workerData: config });
}
