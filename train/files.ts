/**
 * Run folders.
 *
 * Layout of one training run (`--out DIR`):
 *   DIR/config.json        the resolved flags, data description, resolution of the input
 *   DIR/log.jsonl          one JSON object per epoch (loss, lr, accuracy, images/s, ...)
 *   DIR/model.safetensors, best.safetensors, resume.safetensors   checkpoints (train/train_state.ts)
 *   DIR/eval-<mag>/        (rbd eval, by default) eval.json, roc-<split>.svg, confusion-<split>.svg
 * A study (`rbd study`) writes runs/<timestamp>/ with one such folder per trained model, plus
 * report.md, report.html and results.json.
 *
 * Every file that a crash could leave half-written is written atomically (util/files.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** A new folder runs/<UTC timestamp>[-n] under root. */
export function timestampedDir(root: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  let dir = join(root, stamp);
  for (let k = 2; existsSync(dir); k++) dir = join(root, `${stamp}-${k}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
