/**
 * Teacher-target cache: a frozen teacher's outputs per (tile, augmentation), computed once and
 * reused by every distillation epoch, arm and student magnification that asks for them.
 *
 * Distillation augments each tile with an id drawn from a fixed table (data/loader.ts
 * augmentTable: 8 symmetries of the square x colour draws), so the teacher's input, and with it
 * its logits [C] and stage-4 map [planes, h, w], depend only on (teacher weights, tile pixels,
 * augmentation id). Entries are addressed by exactly that: the SHA-1 of the teacher checkpoint
 * file, the SHA-1 of the tile's decoded RGB bytes at the teacher's magnification, and the id.
 *
 * Memory: every entry is kept in a Map (logits + map, float32: 16 KiB per entry for the rbd
 * network at 128 px). With `dir`, entries are also written there (one file per entry, written
 * atomically) and read back by a later process, so a resumed study does not run the teacher
 * again. File layout: dir/<teacher sha1>/<tile sha1>-<id>.f32 = logits then map, float32 LE.
 *
 * Exactness: an entry is the teacher's forward pass on the same normalized, augmented input a
 * fresh pass would see; only the batch it was computed in differs (test/train/teacher_cache.test.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../engine/tensor.ts';
import { noGrad } from '../engine/autograd.ts';
import type { ResNet } from '../models/resnet.ts';
import { type DataSource, type Loader, type SampleRef, sampleId } from '../data/loader.ts';

export interface TeacherTargets {
  /** [N, C] */
  logits: Float32Array;
  /** [N, ...featureShape] */
  features: Float32Array;
  featureShape: number[];
}

export interface TeacherCacheStats {
  /** Entries served from memory or disk. */
  hits: number;
  /** Entries computed by a teacher forward pass. */
  computed: number;
  /** Entries read from `dir`. */
  fromDisk: number;
  /** Seconds spent in teacher forward passes (GPU work awaited). */
  teacherSeconds: number;
}

const sha1 = (data: Uint8Array | string) => createHash('sha1').update(data).digest('hex');

/** SHA-1 of a checkpoint file: the teacher part of every key. */
export function fileHash(path: string): string {
  return sha1(readFileSync(path));
}

export class TeacherTargetCache {
  private entries = new Map<string, { logits: Float32Array; features: Float32Array }>();
  private tileHashes = new Map<string, string>();
  private featureShape: number[] | null = null;
  readonly stats: TeacherCacheStats = { hits: 0, computed: 0, fromDisk: 0, teacherSeconds: 0 };

  constructor(
    readonly teacher: ResNet,
    /** SHA-1 of the teacher's checkpoint (fileHash). */
    readonly teacherHash: string,
    /** The teacher's magnification in the data. */
    readonly teacherMag: string,
    /** Folder for entries on disk, or null for memory only. */
    readonly dir: string | null = null,
  ) {
    if (dir) mkdirSync(join(dir, teacherHash), { recursive: true });
  }

  get size(): number {
    return this.entries.size;
  }

  private async tileHash(source: DataSource, ref: SampleRef): Promise<string> {
    const id = sampleId(ref);
    let h = this.tileHashes.get(id);
    if (!h) {
      const img = await source.image(this.teacherMag, ref);
      if (!img) throw new Error(`tile ${id} is unreadable at ${this.teacherMag}; the teacher cache cannot address it`);
      h = sha1(img.data);
      this.tileHashes.set(id, h);
    }
    return h;
  }

  private file(key: string): string {
    return join(this.dir!, this.teacherHash, `${key}.f32`);
  }

  /**
   * The teacher's targets for tiles `refs` under augmentation ids `ids` (one per tile), in that
   * order. `loader` supplies the images (its source and its augmentation table); missing entries
   * are computed in one teacher pass.
   */
  async targets(loader: Loader, refs: SampleRef[], ids: number[]): Promise<TeacherTargets> {
    const keys = await Promise.all(refs.map(async (r, k) => `${await this.tileHash(loader.source, r)}-${ids[k]}`));
    const missing: number[] = [];
    keys.forEach((key, k) => {
      if (this.entries.has(key)) this.stats.hits++;
      else if (this.dir && this.readEntry(key)) this.stats.fromDisk++;
      else if (!missing.some((m) => keys[m] === key)) missing.push(k);
    });
    if (missing.length)
      await this.compute(
        loader,
        missing.map((k) => refs[k]),
        missing.map((k) => ids[k]),
        missing.map((k) => keys[k]),
      );
    const entries = keys.map((key) => this.entries.get(key)!);
    return {
      logits: concat(entries.map((e) => e.logits)),
      features: concat(entries.map((e) => e.features)),
      featureShape: this.featureShape!,
    };
  }

  private async compute(loader: Loader, refs: SampleRef[], ids: number[], keys: string[]) {
    // Without augmentation every id is 0 and the input is the tile as it is.
    const table = loader.augmentTable;
    const params = ids.map((id) => (table ? table[id] : null));
    if (!table && ids.some((id) => id !== 0))
      throw new Error('teacher cache: augmentation ids need a loader with an augmentation table (augmentSet)');
    const batch = await loader.load({ refs, params, augmentIds: ids, size: refs.length }, [this.teacherMag]);
    if (batch.size !== refs.length) throw new Error(`teacher cache: ${refs.length - batch.size} tile(s) unreadable at ${this.teacherMag}`);
    const view = batch.views[0];
    const started = performance.now();
    const out = noGrad(() => this.teacher.forward(Tensor.from(view.data, view.shape)));
    try {
      const logits = (await out.logits.read()) as Float32Array;
      const features = (await out.features.read()) as Float32Array;
      this.featureShape = [...out.features.shape.slice(1)];
      const classes = logits.length / refs.length;
      const per = features.length / refs.length;
      keys.forEach((key, k) => {
        const entry = { logits: logits.slice(k * classes, (k + 1) * classes), features: features.slice(k * per, (k + 1) * per) };
        this.entries.set(key, entry);
        if (this.dir) this.writeEntry(key, entry);
      });
    } finally {
      out.logits.dispose();
      out.features.dispose();
    }
    this.stats.teacherSeconds += (performance.now() - started) / 1000;
    this.stats.computed += refs.length;
  }

  private writeEntry(key: string, e: { logits: Float32Array; features: Float32Array }) {
    const header = new Uint32Array([e.logits.length, ...(this.featureShape ?? [])]);
    const buf = new Uint8Array(4 + header.byteLength + 4 * (e.logits.length + e.features.length));
    const view = new DataView(buf.buffer);
    view.setUint32(0, header.length, true);
    header.forEach((v, i) => view.setUint32(4 + 4 * i, v, true));
    let at = 4 + header.byteLength;
    for (const arr of [e.logits, e.features]) {
      for (const v of arr) {
        view.setFloat32(at, v, true);
        at += 4;
      }
    }
    const path = this.file(key);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, buf);
    renameSync(tmp, path);
  }

  /** Read an entry written by an earlier process; false when absent or of another shape. */
  private readEntry(key: string): boolean {
    const path = this.file(key);
    if (!existsSync(path)) return false;
    const buf = readFileSync(path);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const n = view.getUint32(0, true);
    const header = Array.from({ length: n }, (_, i) => view.getUint32(4 + 4 * i, true));
    const [classes, ...shape] = header;
    const per = shape.reduce((a, b) => a * b, 1);
    if (buf.byteLength !== 4 + 4 * n + 4 * (classes + per)) return false;
    if (this.featureShape && shape.join() !== this.featureShape.join()) return false;
    const values = new Float32Array(classes + per);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(4 + 4 * n + 4 * i, true);
    this.featureShape = shape;
    this.entries.set(key, { logits: values.slice(0, classes), features: values.slice(classes) });
    return true;
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
