/**
 * The loader: decodes, augments and normalizes images ahead of the consumer, in batches.
 *
 * A batch holds one view per requested magnification (for distillation: [teacher, student]),
 * each a Float32Array in NCHW layout, N images of 3 channels (R, G, B) of H x W,
 * value (x / 255 - mean[c]) / std[c]: element (n, c, y, x) at ((n * 3 + c) * H + y) * W + x.
 * All images of a view in a batch must have one size (batch size 1 lifts that).
 *
 * Prefetch: up to `prefetch` batches are in flight while the consumer works on the current
 * one; decoding runs in sharp's thread pool, so it overlaps the consumer's work. The stats say
 * how many images per second came through and how long the consumer waited for data.
 *
 * Determinism: the order of an epoch is a shuffle seeded by (seed, epoch) and each sample's
 * augmentation by (seed, epoch, sample index), so a run repeats whatever the timing.
 */
import { Rng } from '../engine/random.ts';
import { applyColorJitter, applyGeometry, drawAugmentParams, IDENTITY_AUGMENT, type AugmentOptions, type AugmentParams } from './augment.ts';
import { channelStats, listPairs, listSamples, loadSample, type Dataset, type Sample } from './dataset.ts';
import { DataError } from './errors.ts';
import type { RgbImage } from './image.ts';
import { hashSeed } from './seed.ts';
import type { ChannelStats } from './synth/synthesize.ts';

export interface LoaderOptions {
  split: string;
  /** One magnification, or [teacher, student] for pairs of the same tissue. */
  mags: string[];
  batchSize?: number; // default 1
  shuffle?: boolean; // default false
  seed?: number; // default 0
  /** Paired augmentation (default none). `true` means the defaults of DEFAULT_AUGMENT. */
  augment?: AugmentOptions | boolean;
  /** Normalize by the training split's mean/std per magnification (default true), or by the given stats per view. */
  normalize?: boolean | ChannelStats[];
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** Skip unreadable images with a warning (counted in stats) instead of failing. */
  skipBad?: boolean;
  /** Required [height, width] of the first view's images (a fixed-size run); others must agree within their batch. */
  size?: [number, number];
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

export interface View {
  mag: string;
  /** NCHW, see the file comment. */
  data: Float32Array;
  shape: [number, number, number, number];
}

export interface Batch {
  views: View[];
  /** Class index per image, -1 for unlabeled. */
  labels: Int32Array;
  /** Sample key per image (`class/name`). */
  keys: string[];
}

export interface LoaderStats {
  images: number;
  batches: number;
  /** Wall time from the first request of an epoch to its last batch, summed over epochs. */
  seconds: number;
  imagesPerSecond: number;
  /** Time the consumer spent waiting for a batch that was not ready. */
  waitSeconds: number;
  /** Unreadable files skipped (with skipBad), with the reason. */
  skipped: string[];
}

/** An entry of the loader's list: the sample of each view. */
type Item = { key: string; label: number; samples: Sample[] };

export class Loader {
  readonly items: Item[];
  private readonly opts: Required<Omit<LoaderOptions, 'size' | 'augment' | 'normalize'>> & Pick<LoaderOptions, 'size'>;
  private readonly augment: AugmentOptions | null;
  private readonly normalize: boolean | ChannelStats[];
  private normStats: ChannelStats[] | null = null;
  readonly stats: LoaderStats = { images: 0, batches: 0, seconds: 0, imagesPerSecond: 0, waitSeconds: 0, skipped: [] };

  constructor(
    readonly ds: Dataset,
    options: LoaderOptions,
  ) {
    const o = { batchSize: 1, shuffle: false, seed: 0, prefetch: 2, skipBad: false, dropLast: false, ...options };
    if (o.mags.length < 1 || o.mags.length > 2) throw new DataError(`loader: mags must name one magnification or [teacher, student], got [${o.mags.join(', ')}]`);
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new DataError(`loader: batchSize must be a whole number >= 1, got ${o.batchSize}`);
    if (!Number.isInteger(o.prefetch) || o.prefetch < 1) throw new DataError(`loader: prefetch must be a whole number >= 1, got ${o.prefetch}`);
    if (Array.isArray(o.normalize) && o.normalize.length !== o.mags.length) throw new DataError(`loader: normalize gives ${o.normalize.length} stats for ${o.mags.length} view(s)`);
    this.opts = o;
    this.augment = o.augment === true ? {} : o.augment ? o.augment : null;
    this.normalize = o.normalize ?? true;
    if (o.mags.length === 1) {
      this.items = listSamples(ds, { mag: o.mags[0], split: o.split }).map((s) => ({ key: s.key, label: s.label, samples: [s] }));
    } else {
      this.items = listPairs(ds, { teacherMag: o.mags[0], studentMag: o.mags[1], split: o.split }).map((p) => ({ key: p.key, label: p.label, samples: [p.teacher, p.student] }));
    }
    if (this.items.length === 0) throw new DataError(`loader: split '${o.split}' at ${o.mags[0]} in ${ds.root} has no images`);
  }

  /** Images in one epoch (before skipping bad ones). */
  get length(): number {
    return this.items.length;
  }

  /** Batches in one epoch (before skipping bad ones). */
  get batchCount(): number {
    const n = this.items.length / this.opts.batchSize;
    return this.opts.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The batches of one epoch, prefetched. */
  async *epoch(epoch = 0): AsyncGenerator<Batch> {
    const stats = await this.normalization();
    const order = this.items.map((_, i) => i);
    if (this.opts.shuffle) new Rng(hashSeed(this.opts.seed, epoch, 0x5f1e)).shuffle(order);
    const batches: number[][] = [];
    for (let b = 0; b < this.batchCount; b++) batches.push(order.slice(b * this.opts.batchSize, (b + 1) * this.opts.batchSize));

    const started = performance.now();
    const inFlight: Promise<Batch | null>[] = [];
    let next = 0;
    const fill = () => {
      while (next < batches.length && inFlight.length < this.opts.prefetch) {
        const batch = this.makeBatch(batches[next++], epoch, stats);
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
        if (!batch) continue;
        this.stats.batches++;
        this.stats.images += batch.labels.length;
        yield batch;
      }
    } finally {
      this.stats.seconds += (performance.now() - started) / 1000;
      this.stats.imagesPerSecond = this.stats.seconds > 0 ? this.stats.images / this.stats.seconds : 0;
    }
  }

  private async normalization(): Promise<ChannelStats[] | null> {
    if (this.normalize === false) return null;
    if (Array.isArray(this.normalize)) return this.normalize;
    this.normStats ??= await Promise.all(this.opts.mags.map((m) => channelStats(this.ds, m, { skipBad: this.opts.skipBad })));
    return this.normStats;
  }

  /** Decode, augment and pack the items at `indices`; null when every one was skipped. */
  private async makeBatch(indices: number[], epoch: number, stats: ChannelStats[] | null): Promise<Batch | null> {
    const decoded = await Promise.all(indices.map((i) => this.decodeItem(this.items[i])));
    const kept: { item: Item; images: RgbImage[]; params: AugmentParams }[] = [];
    decoded.forEach((images, k) => {
      if (!images) return;
      const index = indices[k];
      const params = this.augment ? drawAugmentParams(new Rng(hashSeed(this.opts.seed, epoch, index, 0xa06)), this.augment) : IDENTITY_AUGMENT;
      kept.push({ item: this.items[index], images, params });
    });
    if (kept.length === 0) return null;
    const views = this.opts.mags.map((mag, v) => this.packView(mag, v, kept, stats?.[v] ?? null));
    return { views, labels: Int32Array.from(kept.map((k) => k.item.label)), keys: kept.map((k) => k.item.key) };
  }

  /** View v of a batch: check sizes, then transform each image into its NCHW slot. */
  private packView(mag: string, v: number, kept: { item: Item; images: RgbImage[]; params: AugmentParams }[], stats: ChannelStats | null): View {
    const first = kept[0].images[v];
    if (v === 0 && this.opts.size) {
      const [h, w] = this.opts.size;
      const bad = kept.find((k) => k.images[0].height !== h || k.images[0].width !== w);
      if (bad) throw new DataError(`${bad.item.samples[0].file} is ${bad.images[0].width}x${bad.images[0].height} but this run needs ${w}x${h} images at ${mag}; crop or resize the data set, or change the run's tile size`);
    }
    for (const k of kept) {
      const img = k.images[v];
      if (img.width !== first.width || img.height !== first.height) {
        throw new DataError(`images in one batch must have one size: ${k.item.samples[v].file} is ${img.width}x${img.height}, ${kept[0].item.samples[v].file} is ${first.width}x${first.height}; use batch size 1 for images of different sizes, or make them one size`);
      }
    }
    // A quarter turn swaps height and width, so non-square images in one batch must turn alike.
    const odd = kept[0].params.rot90 % 2 === 1;
    if (first.width !== first.height && kept.some((k) => k.params.rot90 % 2 !== kept[0].params.rot90 % 2)) {
      throw new DataError(`rotations by 90 degrees of non-square ${first.width}x${first.height} images cannot share a batch; use batch size 1 or augment with rotate90: false`);
    }
    const h = odd ? first.width : first.height;
    const w = odd ? first.height : first.width;
    const data = new Float32Array(kept.length * 3 * h * w);
    kept.forEach((k, n) => data.set(toTensor(k.images[v], k.params, stats, this.augment !== null), n * 3 * h * w));
    return { mag, data, shape: [kept.length, 3, h, w] };
  }

  /** The images of one item, or null when one is unreadable and skipBad is set. */
  private async decodeItem(item: Item): Promise<RgbImage[] | null> {
    try {
      return await Promise.all(item.samples.map((s) => loadSample(this.ds, s)));
    } catch (e) {
      if (!this.opts.skipBad) throw new DataError(`${(e as Error).message}. Remove or replace the file, or pass --skip-bad to skip unreadable images`);
      this.stats.skipped.push((e as Error).message);
      return null;
    }
  }
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
      const mean = stats.mean[c], inv = 1 / stats.std[c];
      for (let i = c * n; i < (c + 1) * n; i++) turned.data[i] = (turned.data[i] - mean) * inv;
    }
  }
  return turned.data;
}

/**
 * Loader throughput alone: run `batches` batches (default: one epoch) with no consumer work
 * and return images per second. For the benchmarks.
 */
export async function measureLoader(ds: Dataset, options: LoaderOptions, batches = Infinity): Promise<{ images: number; seconds: number; imagesPerSecond: number }> {
  const loader = new Loader(ds, options);
  let seen = 0;
  for await (const _ of loader.epoch(0)) {
    if (++seen >= batches) break;
  }
  return { images: loader.stats.images, seconds: loader.stats.seconds, imagesPerSecond: loader.stats.imagesPerSecond };
}
