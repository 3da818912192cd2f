/**
 * Reading a data set in the ImageFolder layout, per magnification:
 *
 *   ROOT/<mag>/<split>/<class>/*.{png,jpg,jpeg,tif,tiff,webp}
 *   ROOT/<mag>/unlabeled/*.{...}
 *   ROOT/manifest.json          (optional; written by rbd synth: classes and mean/std)
 *
 * Classes are the sorted union of the class folders of the labelled splits (ImageFolder's
 * order), so a label means the same class in every split and magnification. A magnification
 * missing on disk is derived from the highest one present by area downsampling, in memory or
 * cached to disk outside the data set (`derive`). Nothing under ROOT is ever written.
 *
 * Problems that do not stop a run (an empty class folder, a class missing from a split, files
 * that are not images) are collected in `warnings`; callers print them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { DataError } from './errors.ts';
import { areaDownsample, decodeImage, encodePng, isImageFile, type RgbImage } from './image.ts';
import { byDescendingMag, downsampleFactor, parseMag, requireMag, type Mag } from './mag.ts';
import type { ChannelStats, Manifest } from './synth/synthesize.ts';
import { env } from '../util/env.ts';
import { writeJson } from '../util/files.ts';

export const UNLABELED = 'unlabeled';

export interface OpenOptions {
  /** How to make a magnification that is not on disk: 'memory' (default) or 'disk' (cached PNGs in cacheDir). */
  derive?: 'memory' | 'disk';
  /** Cache for derived images and computed statistics (default env RBD_CACHE, else ~/.cache/rbd). */
  cacheDir?: string;
}

/** Files of one magnification: split -> class -> sorted file names; unlabeled files. */
interface MagIndex {
  labelled: Map<string, Map<string, string[]>>;
  unlabeled: string[];
}

export interface Dataset {
  root: string;
  manifest: Manifest | null;
  /** Class names; label i is classes[i]. */
  classes: string[];
  /** Magnifications present on disk, highest first. */
  mags: Mag[];
  /** Labelled splits found at the top magnification (sorted), plus 'unlabeled' when present. */
  splits: string[];
  warnings: string[];
  derive: 'memory' | 'disk';
  cacheDir: string;
  index: Map<string, MagIndex>;
}

/** One image of a split: where to read it, or which image to derive it from. */
export interface Sample {
  /** Path below the split, without extension: the key that pairs magnifications (`acinar/acinar_00003`). */
  key: string;
  /** Class index, or -1 for unlabeled images. */
  label: number;
  mag: string;
  /** The file to read: the image itself, or its source at a higher magnification when factor > 1. */
  file: string;
  /** Area-downsampling factor from `file` (1 = the file is the image). */
  factor: number;
}

export interface Pair {
  key: string;
  label: number;
  teacher: Sample;
  student: Sample;
}

export function openDataset(root: string, options: OpenOptions = {}): Dataset {
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new DataError(
      `data set folder ${root} does not exist; generate one with 'rbd synth --out ${root}' or point to an ImageFolder tree`,
    );
  const warnings: string[] = [];
  const nonImages: string[] = [];
  const mags: Mag[] = [];
  for (const name of listDir(root)) {
    const mag = parseMag(name);
    if (mag && statSync(join(root, name)).isDirectory()) mags.push(mag);
  }
  if (mags.length === 0)
    throw new DataError(`${root} has no magnification folders (named like 10x, 2.5x); expected ROOT/<mag>/<split>/<class>/*.png`);
  mags.sort(byDescendingMag);

  const index = new Map<string, MagIndex>();
  for (const mag of mags) index.set(mag.name, scanMag(join(root, mag.name), nonImages));
  if (nonImages.length > 0) {
    warnings.push(
      `ignored ${nonImages.length} file(s) that are not images (${nonImages
        .slice(0, 3)
        .map((f) => relative(root, f))
        .join(', ')}${nonImages.length > 3 ? ', ...' : ''}); images end in .png .jpg .jpeg .tif .tiff .webp`,
    );
  }

  const top = index.get(mags[0].name)!;
  const classSet = new Set<string>();
  for (const mi of index.values()) for (const classes of mi.labelled.values()) for (const c of classes.keys()) classSet.add(c);
  const classes = [...classSet].sort();
  const splits = [...top.labelled.keys()].sort();
  if (top.unlabeled.length > 0 || existsSync(join(root, mags[0].name, UNLABELED))) splits.push(UNLABELED);
  if (classes.length === 0 && top.unlabeled.length === 0)
    throw new DataError(`${join(root, mags[0].name)} holds no split folders with class folders and no unlabeled folder`);

  for (const mag of mags) {
    for (const [split, perClass] of index.get(mag.name)!.labelled) {
      for (const c of classes) {
        const folder = join(root, mag.name, split, c);
        if (!perClass.has(c))
          warnings.push(
            `class '${c}' is missing from split '${split}' at ${mag.name} (no folder ${folder}); its label stays ${classes.indexOf(c)}, as in the other splits`,
          );
        else if (perClass.get(c)!.length === 0)
          warnings.push(`class '${c}' has no images in ${folder}: add images or remove the folder from every split`);
      }
    }
  }

  let manifest: Manifest | null = null;
  const manifestPath = join(root, 'manifest.json');
  if (existsSync(manifestPath)) {
    try {
      manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    } catch (e) {
      throw new DataError(`cannot parse ${manifestPath}: ${(e as Error).message}; fix or remove it`);
    }
  }
  const cacheDir = options.cacheDir ?? env.cacheDir() ?? join(homedir(), '.cache', 'rbd');
  return { root, manifest, classes, mags, splits, warnings, derive: options.derive ?? 'memory', cacheDir, index };
}

function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

function scanMag(dir: string, nonImages: string[]): MagIndex {
  const labelled = new Map<string, Map<string, string[]>>();
  let unlabeled: string[] = [];
  for (const split of listDir(dir)) {
    const splitDir = join(dir, split);
    if (!statSync(splitDir).isDirectory()) {
      nonImages.push(splitDir);
      continue;
    }
    if (split === UNLABELED) {
      unlabeled = imagesIn(splitDir, nonImages);
      continue;
    }
    const perClass = new Map<string, string[]>();
    for (const c of listDir(splitDir)) {
      const classDir = join(splitDir, c);
      if (statSync(classDir).isDirectory()) perClass.set(c, imagesIn(classDir, nonImages));
      else nonImages.push(classDir);
    }
    labelled.set(split, perClass);
  }
  return { labelled, unlabeled };
}

function imagesIn(dir: string, nonImages: string[]): string[] {
  const out: string[] = [];
  for (const name of listDir(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory() || !isImageFile(name)) nonImages.push(p);
    else out.push(name);
  }
  return out;
}

const stripExt = (name: string) => name.replace(/\.[^.]+$/, '');

/**
 * The images of one split at one magnification, in a fixed order (class, then file name).
 * A magnification not on disk is derived from the highest one present.
 */
export function listSamples(ds: Dataset, opts: { mag: string; split: string }): Sample[] {
  const mag = requireMag(opts.mag, 'listSamples');
  const onDisk = ds.index.get(mag.name);
  const top = ds.mags[0];
  const source = onDisk ? mag : top;
  if (!onDisk && mag.value > top.value)
    throw new DataError(`magnification ${mag.name} is higher than the highest in ${ds.root} (${top.name}); it cannot be derived`);
  const factor = onDisk ? 1 : downsampleFactor(top, mag);
  const mi = ds.index.get(source.name)!;
  const base = join(ds.root, source.name, opts.split);
  if (opts.split === UNLABELED) {
    return mi.unlabeled.map((f) => ({ key: stripExt(f), label: -1, mag: mag.name, file: join(base, f), factor }));
  }
  const perClass = mi.labelled.get(opts.split);
  if (!perClass)
    throw new DataError(`split '${opts.split}' not found at ${source.name} in ${ds.root}; splits there: ${ds.splits.join(', ') || 'none'}`);
  const out: Sample[] = [];
  for (const [c, files] of [...perClass.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const label = ds.classes.indexOf(c);
    for (const f of files) out.push({ key: `${c}/${stripExt(f)}`, label, mag: mag.name, file: join(base, c, f), factor });
  }
  return out;
}

/**
 * Teacher and student samples of the same tissue, matched by path without extension. An image
 * of the teacher's magnification with no twin at the student's is an error listing a few.
 */
export function listPairs(ds: Dataset, opts: { teacherMag: string; studentMag: string; split: string }): Pair[] {
  const teacher = listSamples(ds, { mag: opts.teacherMag, split: opts.split });
  const student = new Map(listSamples(ds, { mag: opts.studentMag, split: opts.split }).map((s) => [s.key, s]));
  const missing: string[] = [];
  const pairs: Pair[] = [];
  for (const t of teacher) {
    const s = student.get(t.key);
    if (!s) missing.push(t.key);
    else pairs.push({ key: t.key, label: t.label, teacher: t, student: s });
  }
  if (missing.length > 0) {
    throw new DataError(
      `${missing.length} image(s) of split '${opts.split}' at ${opts.teacherMag} have no twin at ${opts.studentMag} (e.g. ${missing.slice(0, 3).join(', ')}); add them under ${join(ds.root, opts.studentMag, opts.split)}, or remove that folder so ${opts.studentMag} is derived from ${ds.mags[0].name}`,
    );
  }
  return pairs;
}

/** Decode a sample's image (deriving it by area downsampling when it is not on disk). */
export async function loadSample(ds: Dataset, sample: Sample): Promise<RgbImage> {
  if (sample.factor === 1) return decodeImage(sample.file);
  if (ds.derive === 'memory') return areaDownsample(await decodeImage(sample.file), sample.factor);
  const cached = derivedCachePath(ds, sample);
  if (existsSync(cached)) return decodeImage(cached);
  const img = areaDownsample(await decodeImage(sample.file), sample.factor);
  await mkdir(dirname(cached), { recursive: true });
  // Write then rename, so a concurrent reader never sees half a file.
  const tmp = `${cached}.${process.pid}.tmp`;
  await writeFile(tmp, await encodePng(img));
  await rename(tmp, cached);
  return img;
}

/** Cache path of a derived image, keyed by the data set, the source file's size and time. */
export function derivedCachePath(ds: Dataset, sample: Sample): string {
  const st = statSync(sample.file);
  const rel = relative(ds.root, sample.file);
  return join(ds.cacheDir, 'derived', hashOf(ds.root), sample.mag, `${rel}.${st.size}-${Math.floor(st.mtimeMs)}.png`);
}

function hashOf(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 16);
}

/**
 * Per-channel mean and std (pixel values scaled to [0, 1]) of the training split at `mag`:
 * from the manifest when it has them, else computed once from the images (exact integer
 * sums) and cached in cacheDir, keyed by the file list, sizes and times. With skipBad,
 * unreadable images are left out (the loader reports them) instead of failing.
 */
export async function channelStats(ds: Dataset, mag: string, opts: { split?: string; skipBad?: boolean } = {}): Promise<ChannelStats> {
  const split = opts.split ?? 'train';
  const fromManifest = split === 'train' ? ds.manifest?.stats?.[mag] : undefined;
  if (fromManifest) return fromManifest;
  const samples = listSamples(ds, { mag, split });
  if (samples.length === 0) throw new DataError(`cannot compute mean/std: split '${split}' at ${mag} in ${ds.root} has no images`);
  const key = hashOf(
    JSON.stringify([
      ds.root,
      mag,
      split,
      opts.skipBad ?? false,
      samples.map((s) => [s.file, statSync(s.file).size, statSync(s.file).mtimeMs, s.factor]),
    ]),
  );
  const cachePath = join(ds.cacheDir, 'stats', `${key}.json`);
  if (existsSync(cachePath)) return JSON.parse(readFileSync(cachePath, 'utf8')) as ChannelStats;
  const sums = [0, 0, 0, 0, 0, 0];
  let pixels = 0;
  for (const s of samples) {
    let img: RgbImage;
    try {
      img = await loadSample(ds, s);
    } catch (e) {
      if (opts.skipBad) continue;
      throw new DataError(
        `${(e as Error).message} (while computing the mean/std of ${split} at ${mag}). Remove or replace the file, or pass --skip-bad to skip unreadable images`,
      );
    }
    for (let p = 0; p < img.data.length; p += 3) {
      for (let c = 0; c < 3; c++) {
        const v = img.data[p + c];
        sums[c] += v;
        sums[3 + c] += v * v;
      }
    }
    pixels += img.width * img.height;
  }
  if (pixels === 0) throw new DataError(`cannot compute mean/std: no image of split '${split}' at ${mag} in ${ds.root} could be read`);
  const mean: [number, number, number] = [0, 0, 0];
  const std: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    const m = sums[c] / pixels;
    mean[c] = m / 255;
    std[c] = Math.sqrt(Math.max(0, sums[3 + c] / pixels - m * m)) / 255;
  }
  const stats = { mean, std };
  // Atomic: a half-written cache file would fail every later run that reads it.
  writeJson(cachePath, stats);
  return stats;
}
