/**
 * Tiling whole-slide images into the project's ImageFolder pyramid:
 *
 *   OUT/<mag>/<split>/<class>/<NAME>.png     labelled slides (split by patient, else by slide)
 *   OUT/<mag>/unlabeled/<NAME>.png           slides without a label
 *   OUT/thumbnails/<slide>.png               thumbnail: glass tinted blue, kept tiles outlined
 *   OUT/manifest.json                        slides[], tiles[], classes, magnifications, counts
 *
 * NAME = `<slide>_x<x0>_y<y0>` (level-0 corner) is the same at every magnification; every
 * lower magnification is the exact area downsample of the top one.
 *
 * Scale: each slide is planned from its thumbnail (plan.ts), then windows of tiles are decoded
 * region by region in worker threads; nothing holds more than a window per worker, so memory
 * does not grow with the slide. Tiles are written atomically (window_job.ts); a re-run with the
 * same options skips the tiles already complete and finishes the rest. The options are
 * recorded in OUT/.rbd-tile.json at the start; a re-run with different ones is refused.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { DataError } from '../errors.ts';
import { encodePng } from '../image.ts';
import { byDescendingMag, downsampleFactor, requireMag } from '../mag.ts';
import { SlideError } from './errors.ts';
import { assignSplits, readLabels, type LabelledSplit } from './labels.ts';
import { planSlide, windowsOf, type SlidePlan, type Window } from './plan.ts';
import { openSlide } from './slide.ts';
import { maskPreview } from './tissue.ts';
import { runWindowJob, writeAtomic, type TileRunConfig, type WindowJob, type WindowResult } from './window_job.ts';
import type { PngCompression } from './png.ts';

export const DEFAULT_TILE_MAGS = ['10x', '5x', '2.5x', '1.25x'];
export const UNLABELED_SPLIT = 'unlabeled';
/**
 * Level pixels per window: a libvips read has a fixed cost (opening the file, setting up the
 * pipeline) that small windows pay per few tiles; 4096 x 1024 spreads it over up to 64 tiles
 * of 256 pixels. A window is at most 12 MiB of RGB per worker, whatever the slide's size.
 */
export const DEFAULT_WINDOW = { width: 4096, height: 1024 };

export interface TileOptions {
  slides: string[];
  out: string;
  /** Magnifications, the tile magnification first (default 10x,5x,2.5x,1.25x). */
  mags?: string[];
  /** Tile side at the first magnification (default 256). */
  tile?: number;
  /** Microns per pixel at the first magnification (default 10 / its value: 1.0 at 10x). */
  mpp?: number;
  labels?: string;
  /** Least tissue fraction a tile needs (default 0.5). */
  minTissue?: number;
  /** Level-0 microns per pixel for slides that do not record it. */
  mppOverride?: number;
  /** Bad slides become counted warnings instead of errors. */
  skipBad?: boolean;
  /** Worker threads (0 = the calling thread). */
  workers?: number;
  /** PNG compression of the tiles (default 'none': stored deflate; see png.ts for the trade). */
  compression?: PngCompression;
  /** Level pixels a window (one libvips read shared by its tiles) spans at most, across and down (default 4096 x 1024). */
  window?: { width: number; height: number };
  /** Seed of the patient shuffle that draws splits (default 0). */
  seed?: number;
  /** Split fractions train/val/test for patients the CSV does not place. */
  splitFractions?: [number, number, number];
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
}

export interface ManifestSlide {
  id: string;
  file: string;
  mpp0: number;
  width0: number;
  height0: number;
  levels: { width: number; height: number; downsample: number; tileWidth: number; tileHeight: number; compression: string }[];
  format: string;
  mppSource: string;
  split: string;
  label: string | null;
  patient: string | null;
  /** Level read for the tiles (index into levels) and level pixels per tile pixel. */
  readLevel: number;
  readFactor: number;
  tissueThreshold: number;
  tiles: number;
}

export interface ManifestTile {
  name: string;
  slide: string;
  split: string;
  class: string | null;
  x0: number;
  y0: number;
  size0: number;
  tissue: number;
}

export interface TileManifest {
  generator: 'rbd tile';
  version: 1;
  classes: string[];
  tile: number;
  micronsPerPixel: number;
  minTissue: number;
  magnifications: { name: string; value: number; micronsPerPixel: number; tile: number; factor: number }[];
  counts: { train: number; val: number; test: number; unlabeled: number; perClass: Record<LabelledSplit, Record<string, number>> };
  slides: ManifestSlide[];
  tiles: ManifestTile[];
  /** Slides left out under --skip-bad, with why. */
  skipped: { file: string; kind: string; message: string }[];
}

export interface TileResult {
  manifest: TileManifest;
  /** Tiles written in this run (tiles already complete from an earlier run are not). */
  written: number;
  resumed: number;
  /** Level pixels decoded (the windows read), and level pixels under the tiles written (the part of them that became tiles). */
  decodedPixels: number;
  tilePixels: number;
  seconds: number;
  /** Seconds from the end of planning to the last tile written. */
  tileSeconds: number;
  /** CPU seconds of the whole process (all threads) end to end, and over the tile phase. */
  cpuSeconds: number;
  tileCpuSeconds: number;
  /** Seconds planning (opening slides, thumbnails, masks), and thread-milliseconds per phase of the tile work summed over workers. */
  planSeconds: number;
  phaseMs: WindowResult['ms'];
  warnings: string[];
}

export async function tileSlides(opts: TileOptions): Promise<TileResult> {
  const started = performance.now();
  const startedCpu = process.cpuUsage();
  if (opts.slides.length === 0) throw new DataError('rbd tile: no slides given; name one or more .svs/.tif/.ome.tiff files');
  const tile = opts.tile ?? 256;
  const minTissue = opts.minTissue ?? 0.5;
  const mags = (opts.mags ?? DEFAULT_TILE_MAGS).map((m) => requireMag(m, '--mags'));
  const top = mags[0];
  const sorted = [...mags].sort(byDescendingMag);
  if (sorted[0] !== top)
    throw new DataError(
      `--mags: the first magnification is the tile magnification and must be the highest; got ${mags.map((m) => m.name).join(',')}, write ${sorted.map((m) => m.name).join(',')}`,
    );
  const levels = sorted.map((m) => ({ name: m.name, value: m.value, factor: downsampleFactor(top, m) }));
  for (const l of levels) {
    if (tile % l.factor !== 0)
      throw new DataError(
        `--tile ${tile} is not a multiple of ${l.factor}, the factor from ${top.name} to ${l.name}; pick a tile size divisible by ${levels[levels.length - 1].factor}`,
      );
  }
  const targetMpp = opts.mpp ?? 10 / top.value;
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.onWarning?.(m);
  };

  // Options fingerprint: a re-run into the same folder must cut the same tiles.
  mkdirSync(opts.out, { recursive: true });
  const fingerprint = {
    tile,
    mags: levels.map((l) => l.name),
    targetMpp,
    minTissue,
    labels: opts.labels ? readFileSync(opts.labels, 'utf8') : null,
    seed: opts.seed ?? 0,
    splitFractions: opts.splitFractions ?? null,
  };
  const stampPath = join(opts.out, '.rbd-tile.json');
  if (existsSync(stampPath)) {
    const old = readFileSync(stampPath, 'utf8');
    if (old !== JSON.stringify(fingerprint))
      throw new DataError(
        `${opts.out} holds tiles cut with other options (${old.slice(0, 200)}); use a new --out, or remove ${opts.out} to start over`,
      );
  }
  const partialDir = join(opts.out, '.partial');
  // Temporary files of a killed run are incomplete by definition.
  rmSync(partialDir, { recursive: true, force: true });
  mkdirSync(partialDir, { recursive: true });
  writeAtomic(stampPath, Buffer.from(JSON.stringify(fingerprint)), partialDir);

  const labels = opts.labels ? readLabels(opts.labels) : new Map();
  const splits = assignSplits(
    [...labels.values()].filter((l) => l.label),
    opts.seed ?? 0,
    opts.splitFractions,
  );

  sharp.cache(false);
  const config: TileRunConfig = {
    out: opts.out,
    tile,
    mags: levels.map((l) => ({ name: l.name, factor: l.factor })),
    compression: opts.compression ?? 'none',
  };
  // Workers start now, so that their start-up overlaps planning.
  const pool = Array.from({ length: Math.max(0, opts.workers ?? 0) }, () => spawnWorker(config, partialDir));
  try {
    return await tileWithPool(opts, {
      tile,
      minTissue,
      levels,
      top,
      targetMpp,
      partialDir,
      labels,
      splits,
      config,
      pool,
      warn,
      warnings,
      started,
      startedCpu,
    });
  } finally {
    await Promise.all(pool.map((w) => w.worker.terminate()));
  }
}

interface RunState {
  tile: number;
  minTissue: number;
  levels: { name: string; value: number; factor: number }[];
  top: { name: string };
  targetMpp: number;
  partialDir: string;
  labels: ReturnType<typeof readLabels>;
  splits: ReturnType<typeof assignSplits>;
  config: TileRunConfig;
  pool: PoolWorker[];
  warn: (m: string) => void;
  warnings: string[];
  started: number;
  startedCpu: NodeJS.CpuUsage;
}

async function tileWithPool(opts: TileOptions, st: RunState): Promise<TileResult> {
  const { tile, minTissue, levels, top, targetMpp, partialDir, labels, splits, config, warn, warnings, started } = st;
  const skipped: TileManifest['skipped'] = [];
  const fail = (e: unknown, file: string) => {
    if (!opts.skipBad || !(e instanceof DataError)) throw e;
    const kind = e instanceof SlideError ? e.kind : 'unreadable';
    skipped.push({ file, kind, message: e.message });
    warn(`skipped ${file} (${kind}): ${e.message}`);
  };
  // Plan every slide first: cheap (thumbnail and mask), and errors come before any long work.
  const plans: { plan: SlidePlan; split: string; label: string | null; patient: string | null }[] = [];
  const ids = new Set<string>();
  for (const file of opts.slides) {
    try {
      const slide = openSlide(file, { mppOverride: opts.mppOverride });
      if (ids.has(slide.id))
        throw new DataError(`two slides are named '${slide.id}' (${file}); slide ids are file names without extension and must be unique`);
      ids.add(slide.id);
      const plan = await planSlide(slide, targetMpp, tile, minTissue);
      const row = labels.get(slide.id);
      const label = row?.label ? row.label : null;
      const split = label ? splits.get(slide.id)! : UNLABELED_SPLIT;
      if (plan.tiles.length === 0)
        warn(
          `${file}: no tile has ${minTissue} tissue or more (${plan.columns * plan.rows} candidate tiles; Otsu saturation threshold ${plan.mask.threshold.toFixed(3)}); lower --min-tissue if this is wrong`,
        );
      const thumbs = join(opts.out, 'thumbnails');
      mkdirSync(thumbs, { recursive: true });
      writeAtomic(join(thumbs, `${slide.id}.png`), await encodePng(maskPreview(plan.thumbnail, plan.mask, plan.tiles)), partialDir);
      // Up to 2048 x 2048 pixels each: not kept while later slides are planned (memory must not grow with the slide count).
      plan.thumbnail = { data: new Uint8Array(0), width: 0, height: 0 };
      plan.mask.mask = new Uint8Array(0);
      plans.push({ plan, split, label, patient: row?.patient ?? null });
    } catch (e) {
      fail(e, file);
    }
  }

  const planSeconds = (performance.now() - started) / 1000;
  const tileStarted = performance.now();
  const tileStartedCpu = process.cpuUsage();
  const phaseMs = { decode: 0, resample: 0, encode: 0, write: 0 };
  const window = opts.window ?? DEFAULT_WINDOW;
  const relPath = (name: string, split: string, label: string | null) =>
    label ? `${split}/${label}/${name}.png` : `${UNLABELED_SPLIT}/${name}.png`;
  const jobs: { slideIndex: number; job: WindowJob }[] = [];
  let resumed = 0;
  plans.forEach(({ plan, split, label }, slideIndex) => {
    const todo = plan.tiles.filter((t) => !existsSync(join(opts.out, top.name, relPath(t.name, split, label))));
    resumed += plan.tiles.length - todo.length;
    for (const w of windowsOf(plan, todo, tile, window.width, window.height)) {
      jobs.push({ slideIndex, job: windowJob(plan, w, (name) => relPath(name, split, label)) });
    }
  });
  const total = plans.reduce((s, p) => s + p.plan.tiles.length, 0);
  let done = resumed,
    written = 0,
    decodedPixels = 0,
    tilePixels = 0;
  opts.onProgress?.(done, total);
  const failedSlides = new Set<number>();
  await runPool(
    config,
    partialDir,
    jobs.map((j) => j.job),
    st.pool,
    (index, result, error) => {
      const slideIndex = jobs[index].slideIndex;
      if (error) {
        if (!failedSlides.has(slideIndex)) {
          failedSlides.add(slideIndex);
          fail(error, plans[slideIndex].plan.slide.file);
        }
        return;
      }
      done += result!.tiles;
      written += result!.tiles;
      decodedPixels += result!.decodedPixels;
      tilePixels += result!.tiles * (tile * jobs[index].job.factor) ** 2;
      for (const k of Object.keys(phaseMs) as (keyof typeof phaseMs)[]) phaseMs[k] += result!.ms[k];
      opts.onProgress?.(done, total);
    },
  );
  const tileSeconds = (performance.now() - tileStarted) / 1000;
  const cpu = (since: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(since);
    return (d.user + d.system) / 1e6;
  };
  const tileCpuSeconds = cpu(tileStartedCpu);
  rmSync(partialDir, { recursive: true, force: true });

  const kept = plans.filter((_, i) => !failedSlides.has(i));
  const manifest = buildManifest(kept, levels, tile, targetMpp, minTissue, skipped);
  await writeFile(join(opts.out, 'manifest.json.tmp'), JSON.stringify(manifest, null, 1));
  await rename(join(opts.out, 'manifest.json.tmp'), join(opts.out, 'manifest.json'));
  return {
    manifest,
    written,
    resumed,
    decodedPixels,
    tilePixels,
    seconds: (performance.now() - started) / 1000,
    tileSeconds,
    cpuSeconds: cpu(st.startedCpu),
    tileCpuSeconds,
    planSeconds,
    phaseMs,
    warnings,
  };
}

function buildManifest(
  plans: { plan: SlidePlan; split: string; label: string | null; patient: string | null }[],
  levels: { name: string; value: number; factor: number }[],
  tile: number,
  targetMpp: number,
  minTissue: number,
  skipped: TileManifest['skipped'],
): TileManifest {
  const classes = [...new Set(plans.map((p) => p.label).filter((l): l is string => !!l))].sort();
  const perClass: Record<LabelledSplit, Record<string, number>> = { train: {}, val: {}, test: {} };
  const counts = { train: 0, val: 0, test: 0, unlabeled: 0, perClass };
  const slides: ManifestSlide[] = [];
  const tiles: ManifestTile[] = [];
  for (const { plan, split, label, patient } of plans) {
    const s = plan.slide;
    slides.push({
      id: s.id,
      file: s.file,
      mpp0: s.mpp0,
      width0: s.width0,
      height0: s.height0,
      levels: s.levels.map((l) => ({
        width: l.width,
        height: l.height,
        downsample: l.downsample,
        tileWidth: l.tileWidth,
        tileHeight: l.tileHeight,
        compression: l.compression,
      })),
      format: s.format,
      mppSource: s.mppSource,
      split,
      label,
      patient,
      readLevel: s.levels.indexOf(plan.level),
      readFactor: plan.factor,
      tissueThreshold: plan.mask.threshold,
      tiles: plan.tiles.length,
    });
    for (const t of plan.tiles)
      tiles.push({
        name: t.name,
        slide: s.id,
        split,
        class: label,
        x0: t.x0,
        y0: t.y0,
        size0: t.size0,
        tissue: Number(t.tissue.toFixed(4)),
      });
    const n = plan.tiles.length;
    if (label) {
      counts[split as LabelledSplit] += n;
      perClass[split as LabelledSplit][label] = (perClass[split as LabelledSplit][label] ?? 0) + n;
    } else counts.unlabeled += n;
  }
  return {
    generator: 'rbd tile',
    version: 1,
    classes,
    tile,
    micronsPerPixel: targetMpp,
    minTissue,
    magnifications: levels.map((l) => ({
      name: l.name,
      value: l.value,
      micronsPerPixel: targetMpp * l.factor,
      tile: tile / l.factor,
      factor: l.factor,
    })),
    counts,
    slides,
    tiles,
    skipped,
  };
}

/** The job that cuts one window of a slide's plan; `relPathOf` gives a tile's path below each magnification folder from its name. */
export function windowJob(plan: SlidePlan, w: Window, relPathOf: (name: string) => string): WindowJob {
  return {
    slide: plan.slide,
    level: plan.level,
    x: w.x,
    y: w.y,
    width: w.width,
    height: w.height,
    factor: plan.factor,
    tiles: w.tiles.map((t) => ({ relPath: relPathOf(t.tile.name), sx: t.sx, sy: t.sy })),
  };
}

type Done = (index: number, result: WindowResult | null, error: unknown) => void;

/** A worker thread and the promise that it has loaded (its { ready } message; rejected if it fails to start). */
export interface PoolWorker {
  worker: Worker;
  ready: Promise<void>;
  /** Set when `ready` resolves, readable without waiting a turn. */
  isReady: boolean;
}

/**
 * Run the jobs on the worker threads (none: the calling thread), calling `onDone` as each
 * finishes. Until the first worker has loaded (tsx, sharp and the tiling code take about a
 * second, longer than planning a small slide), the calling thread takes jobs itself, one
 * window at a time, instead of waiting idle.
 */
export async function runPool(
  config: TileRunConfig,
  partialDir: string,
  jobs: WindowJob[],
  workers: PoolWorker[],
  onDone: Done,
): Promise<void> {
  if (jobs.length === 0) return;
  const runHere = async (i: number) => {
    try {
      onDone(i, await runWindowJob(config, jobs[i], partialDir), null);
    } catch (e) {
      onDone(i, null, e);
    }
  };
  if (workers.length === 0) {
    for (let i = 0; i < jobs.length; i++) await runHere(i);
    return;
  }
  let next = 0,
    failed = false;
  const here = (async () => {
    try {
      while (!workers.some((w) => w.isReady) && !failed && next < jobs.length) await runHere(next++);
    } catch (e) {
      failed = true;
      throw e;
    }
  })();
  const loops = workers.map(async ({ worker, ready }) => {
    try {
      await ready;
      while (next < jobs.length && !failed) {
        const i = next++;
        const reply = await request(worker, jobs[i]);
        if ('error' in reply)
          onDone(
            i,
            null,
            reply.slideError ? new SlideError(reply.slideError.file, reply.slideError.kind, reply.error) : new DataError(reply.error),
          );
        else onDone(i, reply.result, null);
      }
    } catch (e) {
      failed = true;
      throw e;
    }
  });
  // After a failure no new job starts; the jobs in progress finish (their tiles are whole) before it is reported.
  const settled = await Promise.allSettled([here, ...loops]);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
}

type Reply = { result: WindowResult } | { error: string; slideError?: { file: string; kind: SlideError['kind'] } };

function request(worker: Worker, job: WindowJob): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Reply) => {
      worker.off('error', onError);
      resolve(m);
    };
    const onError = (e: Error) => {
      worker.off('message', onMessage);
      reject(e);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
    worker.postMessage(job);
  });
}

/** From source the worker is worker.ts loaded through tsx; from the bundled CLI, tile-worker.js beside it. */
function spawnWorker(config: TileRunConfig, partialDir: string): PoolWorker {
  const worker = newWorker(config, partialDir);
  let pool: PoolWorker;
  const ready = new Promise<void>((resolve, reject) => {
    const onMessage = () => {
      worker.off('error', onError);
      pool.isReady = true;
      resolve();
    };
    const onError = (e: Error) => {
      worker.off('message', onMessage);
      reject(e);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
  });
  // A worker that fails before any job is asked of it is reported by the pool; until then the rejection is not unhandled.
  ready.catch(() => {});
  pool = { worker, ready, isReady: false };
  return pool;
}

function newWorker(config: TileRunConfig, partialDir: string): Worker {
  const workerData = { config, partialDir };
  const source = new URL('./worker.ts', import.meta.url);
  if (existsSync(fileURLToPath(source))) {
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source.href)}); })`;
    return new Worker(boot, { eval: true, workerData });
  }
  const bundled = new URL('./tile-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(bundled)))
    throw new DataError(
      `rbd tile: worker script not found (looked for ${fileURLToPath(source)} and ${fileURLToPath(bundled)}); rebuild with 'npm run build', or pass --workers 0`,
    );
  return new Worker(bundled, { workerData });
}
