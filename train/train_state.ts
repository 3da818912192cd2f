/**
 * Checkpoints of a training run, in its folder:
 *   model.safetensors    the weights after the last finished epoch (models/checkpoint.ts format:
 *                        loads with `rbd eval`, `rbd infer`, `rbd distill --teacher`, PyTorch)
 *   best.safetensors     the weights of the epoch with the best validation accuracy
 *   resume.safetensors   what `--resume` reads: the same weights (same keys), plus the optimizer's
 *                        slots as `optimizer.<param index>.<slot>` tensors, and in the metadata the
 *                        optimizer's scalars (`optimizer`) and the loop's position (`loop`)
 * Each file is written atomically, model files before the resume file: a crash in between
 * leaves resume.safetensors at the previous epoch, whose resume rewrites both.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { saveCheckpoint, loadState, type CheckpointExtras } from '../models/checkpoint.ts';
import { readSafetensors, writeSafetensors, type SafetensorsFile, type StoredTensor } from '../models/safetensors.ts';
import type { ResNet } from '../models/resnet.ts';
import type { Optimizer, OptimizerState } from '../engine/optim/optimizer.ts';
import type { LoopCheckpointState } from './loop.ts';

export const MODEL_FILE = 'model.safetensors';
export const BEST_FILE = 'best.safetensors';
export const RESUME_FILE = 'resume.safetensors';

const OPT_PREFIX = 'optimizer.';

/** Write model.safetensors (+ best.safetensors when improved), then resume.safetensors. Returns the resume path. */
export async function saveTrainState(
  dir: string,
  model: ResNet,
  optimizer: Optimizer,
  loop: LoopCheckpointState,
  improved: boolean,
  extras: CheckpointExtras,
): Promise<string> {
  const info = { ...extras, epoch: loop.epoch };
  await saveCheckpoint(join(dir, MODEL_FILE), model, info);
  if (improved) await saveCheckpoint(join(dir, BEST_FILE), model, info);
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, t] of model.stateDict()) entries.push([name, { shape: t.shape, data: (await t.read()) as Float32Array }]);
  const opt = await optimizer.state();
  opt.params.forEach((p, i) => {
    for (const [slot, data] of Object.entries(p.slots)) entries.push([`${OPT_PREFIX}${i}.${slot}`, { shape: [data.length], data }]);
  });
  const scalars = { kind: opt.kind, lr: opt.lr, step: opt.step, paramSteps: opt.params.map((p) => p.step) };
  const path = join(dir, RESUME_FILE);
  writeSafetensors(path, entries, {
    loop: JSON.stringify(loop),
    optimizer: JSON.stringify(scalars),
    training: JSON.stringify(extras.training ?? {}),
  });
  return path;
}

/** Restore weights, optimizer state and loop position from dir/resume.safetensors; null when absent. */
export function loadTrainState(
  dir: string,
  model: ResNet,
  optimizer: Optimizer,
): { state: LoopCheckpointState; path: string; training: Record<string, unknown> } | null {
  const path = join(dir, RESUME_FILE);
  if (!existsSync(path)) return null;
  const st = readSafetensors(path);
  const modelTensors = new Map<string, StoredTensor>();
  for (const [k, v] of st.tensors) if (!k.startsWith(OPT_PREFIX)) modelTensors.set(k, v);
  const modelFile: SafetensorsFile = { tensors: modelTensors, metadata: st.metadata };
  const scalars = JSON.parse(st.metadata.optimizer ?? 'null') as { kind: string; lr: number; step: number; paramSteps: number[] } | null;
  const loop = JSON.parse(st.metadata.loop ?? 'null') as LoopCheckpointState | null;
  if (!scalars || !loop) throw new Error(`${path}: not a resume checkpoint (no optimizer/loop metadata); start a new run without --resume`);
  const opt: OptimizerState = {
    kind: scalars.kind,
    lr: scalars.lr,
    step: scalars.step,
    params: scalars.paramSteps.map((step, i) => {
      const slots: Record<string, Float32Array> = {};
      for (const [k, v] of st.tensors) {
        if (k.startsWith(`${OPT_PREFIX}${i}.`)) slots[k.slice(`${OPT_PREFIX}${i}.`.length)] = v.data!;
      }
      return { step, slots };
    }),
  };
  // Optimizer first: it checks everything before changing anything, then the weights.
  optimizer.loadState(opt);
  loadState(model, modelFile, path);
  return { state: loop, path, training: JSON.parse(st.metadata.training ?? '{}') as Record<string, unknown> };
}
