/**
 * The one data path: every command that reads images (teacher, baseline, distill, eval, the
 * study, bench speed) gets its batches here.
 *
 * `DataSource` is an opened data set (data/dataset.ts) seen as tiles: splits as lists of
 * `SampleRef`s, each tile present at every magnification under the same key (a magnification
 * missing on disk is derived from the top one by area downsampling), the training split's
 * mean/std per magnification, and decoded images kept in memory (up to `cacheBytes`) so later
 * epochs skip decoding. Its warnings (non-image files, classes missing from a split) are
 * printed once, when it opens.
 *
 * `Loader` cuts a list of tiles into batches. A batch holds one view per requested
 * magnification (for distillation [teacher, student]): a Float32Array in NCHW layout, N images
 * of 3 channels (R, G, B) of H x W, value (x / 255 - mean[c]) / std[c], element (n, c, y, x) at
 * ((n * 3 + c) * H + y) * W + x. All images of a view in a batch have one size.
 *
 * Determinism: the order of an epoch is a shuffle seeded by (seed, epoch); each tile's
 * augmentation by (seed, epoch, the tile's index in the loader's list). The plan of an epoch
 * depends on nothing else, so a resumed run sees exactly the batches an uninterrupted one would,
 * whatever the timing. The same augmentation goes to every view of a tile (paired).
 *
 * Augmentation set (`augmentSet: K`): instead of fresh parameters per draw, each tile draws an
 * id in [0, K) from a fixed table (`augmentTable`): the 8 flips/rotations of the square times
 * K / 8 colour-jitter draws, jitter draw 0 being no jitter. A frozen teacher's outputs then
 * depend only on (tile, id) and can be cached (train/teacher_cache.ts).
 *
 * Prefetch: `epoch()` keeps up to `prefetch` batches in flight while the consumer works;
 * decoding runs in sharp's thread pool. Training's loop calls `plan` and `load` itself, with
 * the same look-ahead.
 */
import { Rng } from '../engine/random.ts';
import {
  applyColorJitter,
  applyGeometry,
  drawAugmentParams,
  IDENTITY_AUGMENT,
  DEFAULT_AUGMENT,
  type AugmentOptions,
  type AugmentParams,
} from './augment.ts';
import { channelStats, listSamples, loadSample, openDataset, UNLABELED, type Dataset, type OpenOptions, type Sample } from './dataset.ts';
import { DataError } from './errors.ts';
import type { RgbImage } from './image.ts';
import { hashSeed } from './seed.ts';
import { parseMag } from './mag.ts';
import type { ChannelStats } from './synth/synthesize.ts';

export type SplitName = 'train' | 'val' | 'test' | 'unlabeled';

/** One tile: its split, its key (the same at every magnification), its class (-1: none or withheld). */
export interface SampleRef {
  split: SplitName;
  key: string;
  label: number;
}

/** A unique name of a tile within the data set. */
export const sampleId = (s: SampleRef) => `${s.split}/${s.key}`;

export interface Level {
  name: string;
  value: number;
  micronsPerPixel: number;
  tile: number;
}

export interface DataSourceOptions extends OpenOptions {
  /** Bytes of decoded images kept in memory (default 2 GiB). */
  cacheBytes?: number;
  /** Skip unreadable images (each named once in a warning) instead of failing. */
  skipBad?: boolean;
  /** Where warnings go (default: stderr, prefixed 'warning: '). */
  warn?: (line: string) => void;
}

const defaultWarn = (line: string) => console.error(`warning: ${line}`);

export class DataSource {
  private decoded = new Map<string, RgbImage>();
  private decodedBytes = 0;
  private lists = new Map<string, { list: Sample[]; byKey: Map<string, Sample> }>();
  /** Files found unreadable so far (with skipBad), each with its reason. */
  readonly skipped = new Map<string, string>();

  private constructor(
    readonly ds: Dataset,
    /** Highest magnification first. */
    readonly levels: Level[],
    private readonly stats: Map<string, Promise<ChannelStats>>,
    private readonly opts: Required<Pick<DataSourceOptions, 'cacheBytes' | 'skipBad' | 'warn'>>,
  ) {}

  get root(): string {
    return this.ds.root;
  }
  get classes(): string[] {
    return this.ds.classes;
  }
  get skipBad(): boolean {
    return this.opts.skipBad;
  }
  get warnings(): string[] {
    return this.ds.warnings;
  }

  /** Open a data folder; errors name the folder and what is missing; warnings are printed here, once. */
  static async open(root: string, opts: DataSourceOptions = {}): Promise<DataSource> {
    const ds = openDataset(root, opts);
    if (ds.classes.length === 0)
      throw new DataError(`${root} has no labelled split (ROOT/<mag>/train/<class>/*.png): training and evaluation need one`);
    const warn = opts.warn ?? defaultWarn;
    for (const w of ds.warnings) warn(w);
    const levels: Level[] = [];
    const source = new DataSource(ds, levels, new Map(), { cacheBytes: opts.cacheBytes ?? 2 ** 31, skipBad: opts.skipBad ?? false, warn });
    if (ds.manifest) {
      for (const m of [...ds.manifest.magnifications].sort((a, b) => b.value - a.value))
        levels.push({ name: m.name, value: m.value, micronsPerPixel: m.micronsPerPixel, tile: m.tile });
    } else {
      for (const m of ds.mags) {
        const first = source.sampleAt(m.name, 'train', null);
        if (!first) throw new DataError(`${root}/${m.name}/train has no images`);
        const img = await loadSample(ds, first);
        levels.push({ name: m.name, value: m.value, micronsPerPixel: 10 / m.value, tile: img.width });
      }
    }
    // The statistics of the levels on disk now, so that a bad training split fails at open.
    for (const l of levels) await source.normalization(l.name);
    return source;
  }

  /** data/'s Sample of a tile at a magnification (null key: the first of the split). */
  private sampleAt(mag: string, split: SplitName, key: string | null): Sample | undefined {
    const id = `${mag}|${split}`;
    let entry = this.lists.get(id);
    if (!entry) {
      const list = split === UNLABELED && !this.ds.splits.includes(UNLABELED) ? [] : listSamples(this.ds, { mag, split });
      entry = { list, byKey: new Map(list.map((s) => [s.key, s])) };
      this.lists.set(id, entry);
    }
    return key === null ? entry.list[0] : entry.byKey.get(key);
  }

  /** A magnification of the data: on disk (or in the manifest), or derived from the top one by a whole factor. */
  level(mag: string): Level {
    const found = this.levels.find((x) => x.name === mag);
    if (found) return found;
    const parsed = parseMag(mag);
    const top = this.levels[0];
    const unknown = (why: string) =>
      new DataError(
        `unknown magnification '${mag}': the data at ${this.root} has ${this.levels.map((x) => x.name).join(', ')}, and ${why}`,
      );
    if (!parsed) throw unknown('this is not a magnification (write one like 10x or 2.5x)');
    if (parsed.value > top.value) throw unknown(`${mag} is above the highest, ${top.name}, so it cannot be derived`);
    const ratio = top.value / parsed.value;
    const factor = Math.round(ratio);
    if (Math.abs(ratio - factor) > 1e-9)
      throw unknown(`${mag} is not a whole-number reduction of ${top.name} (ratio ${ratio}), so it cannot be derived by area downsampling`);
    if (top.tile % factor !== 0)
      throw unknown(`${mag} is ${top.name} / ${factor}, but ${top.name} tiles of ${top.tile} px do not divide by ${factor}`);
    const level: Level = { name: mag, value: parsed.value, micronsPerPixel: top.micronsPerPixel * factor, tile: top.tile / factor };
    this.levels.push(level);
    this.levels.sort((a, b) => b.value - a.value);
    return level;
  }

  topLevel(): Level {
    return this.levels[0];
  }

  /** Per-channel mean and std of the training split at `mag` (pixel values in [0, 1]), computed once. */
  normalization(mag: string): Promise<ChannelStats> {
    this.level(mag);
    let st = this.stats.get(mag);
    if (!st) {
      st = channelStats(this.ds, mag, { skipBad: this.skipBad }).then((s) => ({
        mean: s.mean,
        std: s.std.map((v) => Math.max(v, 1e-6)) as [number, number, number],
      }));
      this.stats.set(mag, st);
    }
    return st;
  }

  /** The tiles of a split (class, then file name; labelled splits carry class indices), listed at the top magnification. */
  samples(split: SplitName): SampleRef[] {
    if (split !== UNLABELED && !this.ds.splits.includes(split))
      throw new DataError(`the data at ${this.root} has no '${split}' split (it has ${this.ds.splits.join(', ')})`);
    this.sampleAt(this.levels[0].name, split, null);
    return this.lists.get(`${this.levels[0].name}|${split}`)!.list.map((s) => ({ split, key: s.key, label: s.label }));
  }

  /** The decoded image of a tile at a magnification; null when it is unreadable and skipBad is set. */
  async image(mag: string, ref: SampleRef): Promise<RgbImage | null> {
    const id = `${mag}/${sampleId(ref)}`;
    const hit = this.decoded.get(id);
    if (hit) return hit;
    const sample = this.sampleAt(mag, ref.split, ref.key);
    if (!sample) throw new DataError(`tile ${sampleId(ref)} has no image at ${mag} in ${this.root}`);
    if (this.skipped.has(sample.file)) return null;
    let img: RgbImage;
    try {
      img = await loadSample(this.ds, sample);
    } catch (e) {
      if (!this.opts.skipBad)
        throw new DataError(`${(e as Error).message}. Remove or replace the file, or pass --skip-bad to skip unreadable images`);
      this.skipped.set(sample.file, (e as Error).message);
      this.opts.warn(`skipped unreadable image (--skip-bad): ${(e as Error).message}`);
      return null;
    }
    if (this.decodedBytes + img.data.length <= this.opts.cacheBytes) {
      this.decoded.set(id, img);
      this.decodedBytes += img.data.length;
    }
    return img;
  }
}

export function openDataSource(root: string, opts: DataSourceOptions = {}): Promise<DataSource> {
  return DataSource.open(root, opts);
}

/** The 8 symmetries of the square as (flipH, flipV, quarter turns): every distinct one once. */
const SQUARE_SYMMETRIES: [boolean, boolean, number][] = [0, 1, 2, 3].flatMap((r) => [
  [false, false, r] as [boolean, boolean, number],
  [true, false, r] as [boolean, boolean, number],
]);

/**
 * The fixed augmentation table of `size` entries (a multiple of 8): id = 8 j + g, g the
 * symmetry, j the colour-jitter draw (j = 0: no jitter; j > 0: drawn from a seed fixed by j and
 * the options, never by the run). Geometry follows the options (a disabled flip or turn maps
 * its entries to the identity).
 */
export function augmentTable(size: number, options: AugmentOptions = {}): AugmentParams[] {
  if (!Number.isInteger(size) || size < 8 || size % 8 !== 0)
    throw new DataError(`augmentSet must be a multiple of 8 (the symmetries of the square) times the colour draws, got ${size}`);
  const o = { ...DEFAULT_AUGMENT, ...options };
  const out: AugmentParams[] = [];
  for (let j = 0; j < size / 8; j++) {
    const color =
      j === 0 ? IDENTITY_AUGMENT : drawAugmentParams(new Rng(hashSeed(0xc0102, j)), { ...o, hflip: false, vflip: false, rotate90: false });
    for (const [flipH, flipV, rot90] of SQUARE_SYMMETRIES) {
      out.push({ ...color, flipH: o.hflip && flipH, flipV: o.vflip && flipV, rot90: o.rotate90 ? rot90 : 0 });
    }
  }
  return out;
}

export interface LoaderOptions {
  /** One magnification, or [teacher, student] (any number) for views of the same tiles. */
  mags: string[];
  batchSize: number;
  /** Shuffle each epoch (default false). */
  shuffle?: boolean;
  seed?: number;
  /** Paired augmentation options, or false (default) for none. */
  augment?: AugmentOptions | false;
  /** Draw augmentation ids from a fixed table of this size (see the file comment); needs `augment`. */
  augmentSet?: number;
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Normalize by the training split's mean/std (default true); false leaves values in [0, 1]. */
  normalize?: boolean;
  /**
   * Random square crops of this side (pixels) at the one magnification, drawn per tile from its
   * augmentation stream after the flips and colours (0, default: whole tiles). Single-view loaders only:
   * paired views would need crops aligned across magnifications.
   */
  crop?: number;
}

/** One batch as planned: which tiles, and the augmentation of each. */
export interface PlannedBatch {
  refs: SampleRef[];
  /** Per tile: its augmentation (null: none). */
  params: (AugmentParams | null)[];
  /** Per tile: its id in the augmentation table (with augmentSet), else null. */
  augmentIds: number[] | null;
  /** Tiles planned (a loaded batch may hold fewer, with skipBad). */
  size: number;
  /** Per tile: the crop's top-left corner as fractions in [0, 1) of the room left (with `crop`), else null. */
  crops?: [number, number][] | null;
}

export interface View {
  mag: string;
  /** NCHW, see the file comment. */
  data: Float32Array;
  shape: [number, number, number, number];
}

export interface Batch {
  views: View[];
  /** Class index per image, -1 for unlabeled or withheld. */
  labels: Int32Array;
  refs: SampleRef[];
  augmentIds: number[] | null;
  /** Images in the batch (unreadable ones dropped with skipBad; 0 when all were). */
  size: number;
}

export interface LoaderStats {
  images: number;
  batches: number;
  /** Wall time from the first request of an epoch to its last batch, summed over epochs. */
  seconds: number;
  imagesPerSecond: number;
  /** Time the consumer spent waiting for a batch that was not ready. */
  waitSeconds: number;
}

export class Loader {
  private readonly o: Required<Omit<LoaderOptions, 'augment' | 'augmentSet'>>;
  private readonly augment: AugmentOptions | null;
  private readonly table: AugmentParams[] | null;
  readonly stats: LoaderStats = { images: 0, batches: 0, seconds: 0, imagesPerSecond: 0, waitSeconds: 0 };

  constructor(
    readonly source: DataSource,
    /** The tiles, in a fixed order (their index seeds their augmentation). */
    readonly refs: SampleRef[],
    options: LoaderOptions,
  ) {
    const o = { shuffle: false, seed: 0, prefetch: 2, dropLast: false, normalize: true, crop: 0, ...options };
    if (!Number.isInteger(o.crop) || o.crop < 0) throw new DataError(`loader: crop must be a whole number of pixels >= 0, got ${o.crop}`);
    if (o.crop > 0 && o.mags.length !== 1)
      throw new DataError(`loader: random crops need one magnification (got ${o.mags.join(', ')}): paired views would need aligned crops`);
    if (o.mags.length < 1) throw new DataError('loader: name at least one magnification');
    for (const m of o.mags) source.level(m);
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
      throw new DataError(`loader: batch size must be a whole number >= 1, got ${o.batchSize}`);
    if (!Number.isInteger(o.prefetch) || o.prefetch < 1)
      throw new DataError(`loader: prefetch must be a whole number >= 1, got ${o.prefetch}`);
    if (refs.length === 0) throw new DataError(`loader: no tiles to load at ${o.mags.join(', ')} in ${source.root}`);
    this.augment = o.augment === false || o.augment === undefined ? null : o.augment;
    if (o.augmentSet !== undefined && !this.augment) throw new DataError('loader: augmentSet needs augment');
    this.table = o.augmentSet !== undefined && this.augment ? augmentTable(o.augmentSet, this.augment) : null;
    this.o = {
      shuffle: o.shuffle,
      seed: o.seed,
      prefetch: o.prefetch,
      dropLast: o.dropLast,
      normalize: o.normalize,
      crop: o.crop,
      mags: o.mags,
      batchSize: o.batchSize,
    };
  }

  get mags(): string[] {
    return this.o.mags;
  }

  /** The fixed augmentation table the ids index (with augmentSet), else null. */
  get augmentTable(): AugmentParams[] | null {
    return this.table;
  }

  /** Tiles in one epoch (before skipping bad ones). */
  get length(): number {
    return this.refs.length;
  }

  /** Batches in one epoch. */
  get batchCount(): number {
    const n = this.refs.length / this.o.batchSize;
    return this.o.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The batches of an epoch: a function of (seed, epoch) and the options only. */
  plan(epoch: number): PlannedBatch[] {
    const order = this.refs.map((_, i) => i);
    if (this.o.shuffle) new Rng(hashSeed(this.o.seed, epoch, 0x5f1e)).shuffle(order);
    const out: PlannedBatch[] = [];
    for (let b = 0; b < this.batchCount; b++) {
      const indices = order.slice(b * this.o.batchSize, (b + 1) * this.o.batchSize);
      const draws = indices.map((i) => new Rng(hashSeed(this.o.seed, epoch, i, 0xa06)));
      const augmentIds = this.table ? draws.map((r) => r.int(this.table!.length)) : null;
      const params = augmentIds
        ? augmentIds.map((id) => this.table![id])
        : draws.map((r) => (this.augment ? drawAugmentParams(r, this.augment) : null));
      // Crop corners come after the augmentation draws, so crops leave every other draw as it was.
      const crops = this.o.crop > 0 ? draws.map((r): [number, number] => [r.next(), r.next()]) : null;
      out.push({ refs: indices.map((i) => this.refs[i]), params, augmentIds, size: indices.length, crops });
    }
    return out;
  }

  /** Decode, augment and pack a planned batch at the given magnifications (default: the loader's). */
  async load(planned: PlannedBatch, mags: string[] = this.o.mags): Promise<Batch> {
    const images = await Promise.all(planned.refs.map((r) => Promise.all(mags.map((m) => this.source.image(m, r)))));
    const keep = planned.refs.map((_, k) => k).filter((k) => images[k].every((img) => img !== null));
    const pick = <T>(xs: T[]) => keep.map((k) => xs[k]);
    const refs = pick(planned.refs);
    const params = pick(planned.params);
    const crops = planned.crops ? pick(planned.crops) : null;
    const stats = this.o.normalize ? await Promise.all(mags.map((m) => this.source.normalization(m))) : null;
    const views =
      keep.length === 0
        ? []
        : mags.map((mag, v) =>
            packView(
              mag,
              refs,
              pick(images).map((imgs) => imgs[v]!),
              params,
              stats?.[v] ?? null,
            ),
          );
    if (crops && this.o.crop > 0) for (let v = 0; v < views.length; v++) views[v] = cropView(views[v], crops, this.o.crop);
    return {
      views,
      labels: Int32Array.from(refs.map((r) => r.label)),
      refs,
      augmentIds: planned.augmentIds ? pick(planned.augmentIds) : null,
      size: keep.length,
    };
  }

  /** The batches of one epoch, prefetched; batches whose every image was skipped are left out. */
  async *epoch(epoch = 0): AsyncGenerator<Batch> {
    const batches = this.plan(epoch);
    const started = performance.now();
    const inFlight: Promise<Batch>[] = [];
    let next = 0;
    const fill = () => {
      while (next < batches.length && inFlight.length < this.o.prefetch) {
        const batch = this.load(batches[next++]);
        // A batch may fail while an earlier one is awaited, or after the consumer stopped: mark
        // it handled now (awaiting it below still throws), so Node does not abort on it.
        batch.catch(() => {});
        inFlight.push(batch);
      }
    };
    try {
      fill();
      while (inFlight.length > 0) {
        const waitStart = performance.now();
        const batch = await inFlight.shift()!;
        this.stats.waitSeconds += (performance.now() - waitStart) / 1000;
        fill();
        if (batch.size === 0) continue;
        this.stats.batches++;
        this.stats.images += batch.size;
        yield batch;
      }
    } finally {
      this.stats.seconds += (performance.now() - started) / 1000;
      this.stats.imagesPerSecond = this.stats.seconds > 0 ? this.stats.images / this.stats.seconds : 0;
    }
  }
}

/** One view of a batch: check sizes, then transform each image into its NCHW slot. */
function packView(mag: string, refs: SampleRef[], images: RgbImage[], params: (AugmentParams | null)[], stats: ChannelStats | null): View {
  const first = images[0];
  images.forEach((img, k) => {
    if (img.width !== first.width || img.height !== first.height) {
      throw new DataError(
        `images in one batch must have one size: ${sampleId(refs[k])} at ${mag} is ${img.width}x${img.height}, ${sampleId(refs[0])} is ${first.width}x${first.height}; ` +
          'use --batch 1 for images of different sizes, or make them one size',
      );
    }
  });
  // A quarter turn swaps height and width, so non-square images in one batch must turn alike.
  const turns = params.map((p) => (p ? p.rot90 % 2 : 0));
  if (first.width !== first.height && turns.some((t) => t !== turns[0])) {
    throw new DataError(
      `tiles at ${mag} are ${first.width}x${first.height}: 90-degree rotations of non-square images cannot share a batch; use --no-augment, --batch 1 or square tiles`,
    );
  }
  const h = turns[0] ? first.width : first.height;
  const w = turns[0] ? first.height : first.width;
  const data = new Float32Array(images.length * 3 * h * w);
  images.forEach((img, n) => data.set(toTensor(img, params[n] ?? IDENTITY_AUGMENT, stats, params[n] !== null), n * 3 * h * w));
  return { mag, data, shape: [images.length, 3, h, w] };
}

/**
 * Each image of a packed view cut to a crop x crop square whose top-left corner is the fraction
 * (fy, fx) of the room left: y0 = floor(fy * (H - crop + 1)). A tile smaller than the crop is an error.
 */
function cropView(view: View, corners: [number, number][], crop: number): View {
  const [n, c, h, w] = view.shape;
  if (crop > h || crop > w)
    throw new DataError(`random crop of ${crop} px is larger than the ${w}x${h} tiles at ${view.mag}; use a crop at most the tile size`);
  const data = new Float32Array(n * c * crop * crop);
  for (let i = 0; i < n; i++) {
    const y0 = Math.floor(corners[i][0] * (h - crop + 1)),
      x0 = Math.floor(corners[i][1] * (w - crop + 1));
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < crop; y++) {
        const src = ((i * c + ch) * h + y0 + y) * w + x0;
        data.set(view.data.subarray(src, src + crop), ((i * c + ch) * crop + y) * crop);
      }
  }
  return { mag: view.mag, data, shape: [n, c, crop, crop] };
}

/** RGB bytes -> planar floats in [0, 1] -> flips/rotation -> colour jitter -> normalization. */
export function toTensor(img: RgbImage, params: AugmentParams, stats: ChannelStats | null, jitter: boolean): Float32Array {
  const n = img.width * img.height;
  const planar = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) {
    planar[p] = img.data[3 * p] / 255;
    planar[n + p] = img.data[3 * p + 1] / 255;
    planar[2 * n + p] = img.data[3 * p + 2] / 255;
  }
  const turned = applyGeometry(planar, 3, img.height, img.width, params);
  if (jitter) applyColorJitter(turned.data, turned.height, turned.width, params);
  if (stats) {
    for (let c = 0; c < 3; c++) {
      const mean = stats.mean[c],
        inv = 1 / stats.std[c];
      for (let i = c * n; i < (c + 1) * n; i++) turned.data[i] = (turned.data[i] - mean) * inv;
    }
  }
  return turned.data;
}

/**
 * Loader throughput alone: run `batches` batches of one epoch with no consumer work and return
 * images per second. For the benchmarks.
 */
export async function measureLoader(
  loader: Loader,
  batches = Infinity,
): Promise<{ images: number; seconds: number; imagesPerSecond: number }> {
  let seen = 0;
  for await (const _ of loader.epoch(0)) {
    if (++seen >= batches) break;
  }
  return { images: loader.stats.images, seconds: loader.stats.seconds, imagesPerSecond: loader.stats.imagesPerSecond };
}
