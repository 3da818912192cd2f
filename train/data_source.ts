/**
 * The training side's view of a data set (opened with data/dataset.ts): splits as lists of
 * tiles, each tile present at every magnification under the same key (a magnification missing
 * on disk is derived from the top one by area downsampling, as data/ does), and batches of
 * normalized float images.
 *
 * Levels: the magnifications of manifest.json (rbd synth) with their microns per pixel and tile
 * size; without a manifest (real data), the magnifications on disk, 10 / magnification microns
 * per pixel (10x is about 1 micron per pixel), and the tile size of the first training image.
 *
 * Batch layout: `data` is [N, 3, H, W] float32, row-major (NCHW), pixel values scaled to [0, 1],
 * then per channel (x - mean) / std of the training split at that magnification
 * (data/dataset.ts channelStats), converted by data/loader.ts `toTensor`. All tiles of a batch
 * must have the same size. Augmentation (data/augment.ts: flips, 90-degree turns, colour
 * jitter) is drawn per tile from the batch seed and applied identically to both images of a
 * teacher/student pair. Decoded tiles are kept in memory (up to `cacheBytes`), so later epochs
 * skip PNG decoding. (data/'s Loader iterates one split; training here mixes the labelled and
 * unlabeled pools in one seeded plan and caches teacher outputs, so it assembles batches itself
 * from the same pieces.)
 */
import { Rng } from '../engine/random.ts';
import type { RgbImage } from '../data/image.ts';
import { openDataset, listSamples, loadSample, channelStats, UNLABELED, type Dataset, type Sample } from '../data/dataset.ts';
import { drawAugmentParams, IDENTITY_AUGMENT, type AugmentParams } from '../data/augment.ts';
import { toTensor } from '../data/loader.ts';
import { DataError } from '../data/errors.ts';

export type SplitName = 'train' | 'val' | 'test' | 'unlabeled';

/** One tile: its split, its key (the same at every magnification), its class (-1: none or withheld). */
export interface SampleRef { split: SplitName; key: string; label: number }

/** A unique name of a tile within the data set. */
export const sampleId = (s: SampleRef) => `${s.split}/${s.key}`;

export interface Level { name: string; value: number; micronsPerPixel: number; tile: number }

export interface ImageBatch { data: Float32Array; shape: [number, number, number, number] }

export interface Normalization { mean: number[]; std: number[] }

export class StudyData {
  private decoded = new Map<string, RgbImage>();
  private decodedBytes = 0;
  private lists = new Map<string, { list: Sample[]; byKey: Map<string, Sample> }>();

  private constructor(
    readonly ds: Dataset,
    /** Highest magnification first. */
    readonly levels: Level[],
    private readonly stats: Map<string, Normalization>,
    readonly cacheBytes: number,
  ) {}

  get root(): string {
    return this.ds.root;
  }
  get classes(): string[] {
    return this.ds.classes;
  }

  /** Open a data folder; errors name the folder and what is missing. */
  static async open(root: string, opts: { cacheBytes?: number } = {}): Promise<StudyData> {
    const ds = openDataset(root);
    const levels: Level[] = [];
    const data = new StudyData(ds, levels, new Map(), opts.cacheBytes ?? 2 ** 31);
    if (ds.manifest) {
      for (const m of [...ds.manifest.magnifications].sort((a, b) => b.value - a.value)) levels.push({ name: m.name, value: m.value, micronsPerPixel: m.micronsPerPixel, tile: m.tile });
    } else {
      for (const m of ds.mags) {
        const first = data.sampleAt(m.name, 'train', null);
        if (!first) throw new DataError(`${root}/${m.name}/train has no images`);
        const img = await loadSample(ds, first);
        levels.push({ name: m.name, value: m.value, micronsPerPixel: 10 / m.value, tile: img.width });
      }
    }
    for (const l of levels) {
      const st = await channelStats(ds, l.name);
      data.stats.set(l.name, { mean: [...st.mean], std: st.std.map((v) => Math.max(v, 1e-6)) });
    }
    return data;
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

  level(mag: string): Level {
    const l = this.levels.find((x) => x.name === mag);
    if (!l) throw new DataError(`unknown magnification '${mag}': the data at ${this.root} has ${this.levels.map((x) => x.name).join(', ')}`);
    return l;
  }

  topLevel(): Level {
    return this.levels[0];
  }

  normalization(mag: string): Normalization {
    this.level(mag);
    return this.stats.get(mag)!;
  }

  /** The tiles of a split (class, then file name; labelled splits carry class indices), listed at the top magnification. */
  samples(split: SplitName): SampleRef[] {
    if (split !== UNLABELED && !this.ds.splits.includes(split)) throw new DataError(`the data at ${this.root} has no '${split}' split (it has ${this.ds.splits.join(', ')})`);
    this.sampleAt(this.levels[0].name, split, null);
    return this.lists.get(`${this.levels[0].name}|${split}`)!.list.map((s) => ({ split, key: s.key, label: s.label }));
  }

  private async decode(mag: string, ref: SampleRef): Promise<RgbImage> {
    const id = `${mag}/${sampleId(ref)}`;
    const hit = this.decoded.get(id);
    if (hit) return hit;
    const sample = this.sampleAt(mag, ref.split, ref.key);
    if (!sample) throw new DataError(`tile ${sampleId(ref)} has no image at ${mag} in ${this.root}`);
    const img = await loadSample(this.ds, sample);
    if (this.decodedBytes + img.data.length <= this.cacheBytes) {
      this.decoded.set(id, img);
      this.decodedBytes += img.data.length;
    }
    return img;
  }

  private async batchAt(mag: string, samples: SampleRef[], params: (AugmentParams | null)[]): Promise<ImageBatch> {
    this.level(mag);
    const images = await Promise.all(samples.map((s) => this.decode(mag, s)));
    const { height, width } = images[0];
    const bad = images.findIndex((t) => t.height !== height || t.width !== width);
    if (bad >= 0) throw new DataError(`batch at ${mag} mixes tile sizes: ${sampleId(samples[0])} is ${width}x${height}, ${sampleId(samples[bad])} is ${images[bad].width}x${images[bad].height}; use --batch 1 for data of mixed sizes`);
    // Quarter turns swap height and width, the same for every tile of a square batch only.
    const turned = params.some((p) => p !== null && p.rot90 % 2 === 1);
    if (turned && height !== width) throw new DataError(`tiles at ${mag} are ${width}x${height}: 90-degree rotations need square tiles; use --no-augment or square tiles`);
    const stats = this.normalization(mag);
    const data = new Float32Array(images.length * 3 * height * width);
    images.forEach((img, k) => data.set(toTensor(img, params[k] ?? IDENTITY_AUGMENT, { mean: stats.mean as [number, number, number], std: stats.std as [number, number, number] }, params[k] !== null), k * 3 * height * width));
    return { data, shape: [images.length, 3, height, width] };
  }

  private augmentParams(count: number, seed: number | null): (AugmentParams | null)[] {
    if (seed === null) return new Array(count).fill(null);
    const rng = new Rng(seed);
    return Array.from({ length: count }, () => drawAugmentParams(rng));
  }

  /** One batch at one magnification; augmented from `augmentSeed` (null: not augmented). */
  loadBatch(mag: string, samples: SampleRef[], augmentSeed: number | null): Promise<ImageBatch> {
    return this.batchAt(mag, samples, this.augmentParams(samples.length, augmentSeed));
  }

  /** The same tiles at the teacher's and the student's magnification, with the same augmentation. */
  async loadPairBatch(teacherMag: string, studentMag: string, samples: SampleRef[], augmentSeed: number | null): Promise<{ teacher: ImageBatch; student: ImageBatch }> {
    const params = this.augmentParams(samples.length, augmentSeed);
    const [teacher, student] = await Promise.all([this.batchAt(teacherMag, samples, params), this.batchAt(studentMag, samples, params)]);
    return { teacher, student };
  }
}

export function openStudyData(root: string, opts: { cacheBytes?: number } = {}): Promise<StudyData> {
  return StudyData.open(root, opts);
}
