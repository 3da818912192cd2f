/**
 * Run folders and the files in them.
 *
 * Layout of one training run (`--out DIR`):
 *   DIR/config.json        the resolved flags, data description, resolution of the input
 *   DIR/log.jsonl          one JSON object per epoch (loss, lr, accuracy, images/s, ...)
 *   DIR/last.safetensors   weights + optimizer state + loop state after the last finished epoch
 *   DIR/best.safetensors   (supervised runs) the epoch with the best validation accuracy
 *   DIR/eval.json          (after the run) test/val metrics, and eval-*.svg plots
 * A study (`rbd study`) writes runs/<timestamp>/ with one such folder per trained model, plus
 * report.md, report.html and results.json.
 *
 * Every file that a crash could leave half-written is written atomically (models/safetensors.ts:
 * a temporary file in the same folder, flushed, then renamed over the target).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic as writeBytesAtomic } from '../models/safetensors.ts';

/** Write a file so that readers see either the old or the new contents, never a mix. */
export function writeFileAtomic(path: string, data: string | Uint8Array) {
  mkdirSync(dirname(path), { recursive: true });
  writeBytesAtomic(path, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
}

export function writeJson(path: string, value: unknown) {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Append one record as a line of JSON (the per-epoch log). */
export function appendJsonl(path: string, record: unknown) {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, JSON.stringify(record) + '\n');
}

/** All records of a JSONL file (empty when the file does not exist). */
export function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

/** Rewrite a JSONL file keeping only the records that pass (resume drops epochs it will redo). */
export function filterJsonl<T>(path: string, keep: (r: T) => boolean) {
  const kept = readJsonl<T>(path).filter(keep);
  writeFileAtomic(path, kept.map((r) => JSON.stringify(r) + '\n').join(''));
}

/** A new folder runs/<UTC timestamp>[-n] under root. */
export function timestampedDir(root: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  let dir = join(root, stamp);
  for (let k = 2; existsSync(dir); k++) dir = join(root, `${stamp}-${k}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
