/**
 * Files that a crash must not leave half-written, and the JSON forms the project writes.
 *
 * `writeFileAtomic` writes a temporary file in the target's folder, flushes it, then renames it
 * over the target: readers see the old contents or the new, never a mix. Every writer of
 * checkpoints, JSON results, reports and plots goes through it.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Write `data` to `path` atomically, creating the folder if needed. */
export function writeFileAtomic(path: string, data: string | Uint8Array) {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  let fd = -1;
  try {
    fd = openSync(tmp, 'w');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    if (existsSync(tmp)) unlinkSync(tmp);
    throw new Error(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  // Flush the rename itself; some platforms cannot open a directory, which is harmless.
  try {
    const dfd = openSync(dirname(path), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    /* directory fsync is best effort */
  }
}

/** `value` as indented JSON, written atomically. */
export function writeJson(path: string, value: unknown) {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Append one record as a line of JSON (a log that grows one record at a time). */
export function appendJsonl(path: string, record: unknown) {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, JSON.stringify(record) + '\n');
}

/** All records of a JSONL file (empty when the file does not exist). */
export function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/** Rewrite a JSONL file atomically, keeping only the records that pass. */
export function filterJsonl<T>(path: string, keep: (r: T) => boolean) {
  const kept = readJsonl<T>(path).filter(keep);
  writeFileAtomic(path, kept.map((r) => JSON.stringify(r) + '\n').join(''));
}
