/**
 * A checkpoint over a whole slide: the slide is tiled at the checkpoint's magnification through
 * the tissue mask (data/slide/plan.ts, the same tiles `rbd tile` cuts), each tile classified
 * (models/tiled_infer.ts, batches that fit the adapter), and two files written:
 *   OUT/<slide>-tiles.csv     name,x0,y0,size0,p_<class>... (level-0 corner and side)
 *   OUT/<slide>-heatmap.png   the slide thumbnail, each tile coloured by its class probabilities
 *                             (the probability-weighted mix of one colour per class, over the
 *                             thumbnail at 35%), outside tiles the thumbnail greyed; a legend
 *                             of the class colours is printed by the caller.
 * Windows of tiles are read one at a time, so memory stays flat whatever the slide's size.
 */
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../util/files.ts';
import { join } from 'node:path';
import { encodePng, type RgbImage } from '../data/image.ts';
import { openSlide, readRegion } from '../data/slide/slide.ts';
import { planSlide, windowsOf } from '../data/slide/plan.ts';
import { areaResample } from '../data/slide/resample.ts';
import { classifyTiles, type Normalization } from '../models/tiled_infer.ts';
import type { ResNet } from '../models/resnet.ts';

export interface SlideInferOptions {
  slide: string;
  out: string;
  /** Magnification the model was trained at (10 = 10x, 1.0 um/px). */
  magnification: number;
  tile: number;
  minTissue: number;
  mppOverride?: number;
  classNames: string[];
  normalization: Normalization;
  onProgress?: (done: number, total: number) => void;
}

export interface SlideInferResult {
  slide: string;
  tiles: number;
  csv: string;
  heatmap: string;
  /** Mean of the tile probabilities (the slide-level aggregation), per class. */
  meanProbabilities: number[];
}

/** One colour per class (Okabe-Ito, distinguishable with colour-blindness), repeated past 8. */
export const CLASS_COLOURS: [number, number, number][] = [
  [230, 159, 0],
  [86, 180, 233],
  [0, 158, 115],
  [240, 228, 66],
  [0, 114, 178],
  [213, 94, 0],
  [204, 121, 167],
  [0, 0, 0],
];

export async function inferSlide(model: ResNet, o: SlideInferOptions): Promise<SlideInferResult> {
  const slide = openSlide(o.slide, { mppOverride: o.mppOverride });
  const plan = await planSlide(slide, 10 / o.magnification, o.tile, o.minTissue);
  const k = o.classNames.length;
  const probs: Float32Array[] = new Array(plan.tiles.length);
  const index = new Map(plan.tiles.map((t, i) => [t, i]));
  let done = 0;
  o.onProgress?.(0, plan.tiles.length);
  for (const w of windowsOf(plan, plan.tiles, o.tile)) {
    const region = await readRegion(slide, plan.level, w.x, w.y, w.width, w.height);
    const pixels = w.tiles.map((t) => areaResample(region, t.sx, t.sy, plan.factor, o.tile, o.tile));
    const p = await classifyTiles(model, pixels, o.normalization);
    w.tiles.forEach((t, i) => (probs[index.get(t.tile)!] = p[i]));
    done += w.tiles.length;
    o.onProgress?.(done, plan.tiles.length);
  }

  mkdirSync(o.out, { recursive: true });
  const csv = join(o.out, `${slide.id}-tiles.csv`);
  const lines = [['name', 'x0', 'y0', 'size0', ...o.classNames.map((c) => `p_${c}`)].join(',')];
  plan.tiles.forEach((t, i) => lines.push([t.name, t.x0, t.y0, t.size0, ...Array.from(probs[i], (v) => v.toFixed(6))].join(',')));
  writeFileAtomic(csv, lines.join('\n') + '\n');

  const heat = heatmap(plan.thumbnail, plan.mask.scaleX, plan.mask.scaleY, plan.tiles, probs);
  const heatPath = join(o.out, `${slide.id}-heatmap.png`);
  writeFileAtomic(heatPath, await encodePng(heat));
  const mean = Array.from({ length: k }, (_, c) => (probs.length ? probs.reduce((s, p) => s + p[c], 0) / probs.length : NaN));
  return { slide: slide.id, tiles: plan.tiles.length, csv, heatmap: heatPath, meanProbabilities: mean };
}

/** Thumbnail greyed; each tile's area the probability mix of the class colours over the thumbnail (65% colour). */
export function heatmap(
  thumbnail: RgbImage,
  scaleX: number,
  scaleY: number,
  tiles: { x0: number; y0: number; size0: number }[],
  probs: Float32Array[],
): RgbImage {
  const { width, height } = thumbnail;
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const g = 0.3 * thumbnail.data[p * 3] + 0.59 * thumbnail.data[p * 3 + 1] + 0.11 * thumbnail.data[p * 3 + 2];
    data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = Math.round(g * 0.6 + 100);
  }
  tiles.forEach((t, i) => {
    const colour = [0, 0, 0];
    probs[i].forEach((v, c) => {
      const col = CLASS_COLOURS[c % CLASS_COLOURS.length];
      for (let ch = 0; ch < 3; ch++) colour[ch] += v * col[ch];
    });
    const xa = Math.floor(t.x0 / scaleX),
      xb = Math.min(width, Math.ceil((t.x0 + t.size0) / scaleX));
    const ya = Math.floor(t.y0 / scaleY),
      yb = Math.min(height, Math.ceil((t.y0 + t.size0) / scaleY));
    for (let y = ya; y < yb; y++) {
      for (let x = xa; x < xb; x++) {
        const q = (y * width + x) * 3;
        for (let ch = 0; ch < 3; ch++) data[q + ch] = Math.round(0.65 * colour[ch] + 0.35 * thumbnail.data[q + ch]);
      }
    }
  });
  return { data, width, height };
}
