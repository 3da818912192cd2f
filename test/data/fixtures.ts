/** Helpers for the data tests: temp folders, float64 image statistics, file listings. */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { RgbImage } from '../../data/image.ts';

/** A fresh temp folder; removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `rbd-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every file below `root`, as sorted paths relative to it. */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out;
}

/** Float64 mean of each f x f block, per channel, interleaved RGB (the textbook area average). */
export function blockMeans(img: RgbImage, f: number): { data: Float64Array; width: number; height: number } {
  const width = Math.floor(img.width / f),
    height = Math.floor(img.height / f);
  const data = new Float64Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += img.data[((y * f + dy) * img.width + x * f + dx) * 3 + c];
        data[(y * width + x) * 3 + c] = s / (f * f);
      }
    }
  }
  return { data, width, height };
}
