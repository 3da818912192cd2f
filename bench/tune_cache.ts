/**
 * The tune cache: the variant choices `rbd tune` measured (engine/variant_choice.ts), per adapter.
 *
 * One JSON file (default ~/.cache/rbd-webgpu/tune.json, or RBD_TUNE_CACHE, or --out) holds one
 * entry per adapter. An entry applies only where its key matches exactly: the adapter's vendor,
 * architecture, description and driver (GPUAdapterInfo.device), the backend and feature level,
 * the subgroup min/max sizes, the `webgpu` package version and a SHA-256 of every WGSL file
 * under kernels/. A changed kernel, another driver or another package version makes the entry
 * stale: it is ignored with a one-line note and the rules choose until `rbd tune` runs again.
 * Writes are atomic (util/files.ts): a crash leaves the old file or the new one.
 *
 * Node only (reads kernels/ and the home folder): the CLI loads it, the engine never does.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { platform } from '#platform';
import type { AdapterEntry } from '../engine/device.ts';
import { setTunedChoices, type TunedChoices } from '../engine/variant_choice.ts';
import { env } from '../util/env.ts';
import { writeJson } from '../util/files.ts';

export const TUNE_CACHE_VERSION = 1;

/** What an entry is valid for (see the file comment). */
export interface TuneKey {
  vendor: string;
  architecture: string;
  description: string;
  /** GPUAdapterInfo.device: Dawn puts the driver there (e.g. Mesa's llvmpipe version string). */
  device: string;
  backend: string;
  featureLevel: string;
  subgroupMinSize: number | null;
  subgroupMaxSize: number | null;
  webgpuVersion: string;
  /** SHA-256 (hex) of every kernels/**\/*.wgsl, path and contents, in path order. */
  kernelsHash: string;
}

/** One candidate's measurement in a tune run. */
export interface TuneMeasurement {
  candidate: string;
  /** Median ms of the timed runs, or null when it was not timed (failed validation, pruned). */
  ms: number | null;
  status: 'timed' | 'pruned' | 'failed';
  detail?: string;
}

/** One geometry class of one selection point, as tuned. */
export interface TuneClassReport {
  op: string;
  class: string;
  /** The geometry the candidates were timed on. */
  geometry: string;
  rule: string;
  chosen: string;
  /** The rule's and the choice's times from the final interleaved comparison (ms, median). */
  ruleMs: number;
  chosenMs: number;
  /** What the times are: wall-clock ms, or this process's CPU ms (software adapters). */
  clock: 'wall' | 'cpu';
  measurements: TuneMeasurement[];
}

export interface TuneEntry {
  key: TuneKey;
  date: string;
  commandLine: string;
  /** What was tuned: batch, magnifications, tile, architecture, repetitions. */
  settings: Record<string, unknown>;
  choices: TunedChoices;
  report: TuneClassReport[];
}

export interface TuneCacheFile {
  version: number;
  entries: TuneEntry[];
}

/** The cache file in force: RBD_TUNE_CACHE, else ~/.cache/rbd-webgpu/tune.json. */
export function defaultTuneCachePath(): string {
  return env.tuneCache() ?? join(homedir(), '.cache', 'rbd-webgpu', 'tune.json');
}

function wgslFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...wgslFiles(p, `${prefix}${name}/`));
    else if (name.endsWith('.wgsl')) out.push(`${prefix}${name}`);
  }
  return out;
}

const hashMemo = new Map<string, string>();

/** SHA-256 of every WGSL file under `dir` (default kernels/): relative path and contents, sorted by path. */
export function kernelsHash(dir = platform.kernelOrigin('')): string {
  const hit = hashMemo.get(dir);
  if (hit) return hit;
  const h = createHash('sha256');
  for (const f of wgslFiles(dir)) {
    h.update(f + '\0');
    h.update(readFileSync(join(dir, f)));
    h.update('\0');
  }
  const hex = h.digest('hex');
  // The project's kernels do not change under a running process; a test's folder may.
  if (dir === platform.kernelOrigin('')) hashMemo.set(dir, hex);
  return hex;
}

/** The key of an adapter (no device needed: `rbd info` asks too). */
export function tuneKey(a: AdapterEntry): TuneKey {
  const info = a.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    description: info.description ?? '',
    device: info.device ?? '',
    backend: a.backend,
    featureLevel: a.featureLevel,
    subgroupMinSize: info.subgroupMinSize ?? null,
    subgroupMaxSize: info.subgroupMaxSize ?? null,
    webgpuVersion: platform.describeHost().webgpuVersion,
    kernelsHash: kernelsHash(),
  };
}

const KEY_FIELDS: (keyof TuneKey)[] = [
  'vendor',
  'architecture',
  'description',
  'device',
  'backend',
  'featureLevel',
  'subgroupMinSize',
  'subgroupMaxSize',
  'webgpuVersion',
  'kernelsHash',
];
/** The fields that say which adapter; the rest (driver, subgroup sizes, package, kernels) say which software drives it. */
const ADAPTER_FIELDS: (keyof TuneKey)[] = ['vendor', 'architecture', 'description', 'backend', 'featureLevel'];

/** The key fields in which two keys differ. */
export function keyDifferences(a: TuneKey, b: TuneKey): (keyof TuneKey)[] {
  return KEY_FIELDS.filter((k) => a[k] !== b[k]);
}

/** Read a cache file; null when there is none. A file that is not a tune cache is an error naming it. */
export function readTuneCache(path: string): TuneCacheFile | null {
  if (!existsSync(path)) return null;
  let data: TuneCacheFile;
  try {
    data = JSON.parse(readFileSync(path, 'utf8')) as TuneCacheFile;
  } catch (e) {
    throw new Error(`tune cache ${path} is not valid JSON (${(e as Error).message}); delete it or run 'rbd tune' to rewrite it`);
  }
  if (!data || data.version !== TUNE_CACHE_VERSION || !Array.isArray(data.entries))
    throw new Error(
      `tune cache ${path} is not a version-${TUNE_CACHE_VERSION} tune cache (version ${data?.version}); delete it or run 'rbd tune' to rewrite it`,
    );
  return data;
}

/** The entry for `key` and, when there is none, a one-line note on the nearest stale one. */
export function findTuneEntry(file: TuneCacheFile | null, key: TuneKey, path: string): { entry: TuneEntry | null; note: string | null } {
  const entry = file?.entries.find((e) => keyDifferences(e.key, key).length === 0) ?? null;
  if (entry) return { entry, note: null };
  const sameAdapter = file?.entries.find((e) => ADAPTER_FIELDS.every((k) => e.key[k] === key[k]));
  if (sameAdapter) {
    const what = keyDifferences(sameAdapter.key, key).map((k) =>
      k === 'kernelsHash' ? 'the kernels changed' : k === 'device' ? 'the driver (device) changed' : `${k} changed`,
    );
    return {
      entry: null,
      note: `tune cache ${path}: the entry for this adapter is stale (${what.join(', ')}); rules choose. Run 'rbd tune' again.`,
    };
  }
  if (file?.entries.length)
    return {
      entry: null,
      note: `tune cache ${path} has entries only for other adapters (${file.entries.map((e) => e.key.description || e.key.device).join('; ')}); rules choose. 'rbd tune' adds one for this adapter.`,
    };
  return { entry: null, note: null };
}

/** Add (or replace) the entry of `entry.key`'s adapter, atomically. Other adapters' entries stay. */
export function writeTuneEntry(path: string, entry: TuneEntry) {
  const file = readTuneCache(path) ?? { version: TUNE_CACHE_VERSION, entries: [] };
  const others = file.entries.filter((e) => !ADAPTER_FIELDS.every((k) => e.key[k] === entry.key[k]));
  writeJson(path, { version: TUNE_CACHE_VERSION, entries: [...others, entry] } satisfies TuneCacheFile);
}

/** How the choices stand for an adapter: the entry in force, or why none is. */
export interface TuneStatus {
  path: string;
  entry: TuneEntry | null;
  note: string | null;
}

export function tuneStatus(a: AdapterEntry, path = defaultTuneCachePath()): TuneStatus {
  const found = findTuneEntry(readTuneCache(path), tuneKey(a), path);
  return { path, ...found };
}

/** Put the cache's choices for the open adapter in force (engine/variant_choice.ts); returns the status for messages. */
export function applyTuneCache(a: AdapterEntry, path = defaultTuneCachePath()): TuneStatus {
  const s = tuneStatus(a, path);
  setTunedChoices(s.entry ? s.entry.choices : null, s.entry ? path : '');
  return s;
}
