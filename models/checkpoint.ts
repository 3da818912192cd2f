/**
 * Checkpoints: a ResNet's state_dict in a safetensors file, float32, with the PyTorch
 * reference's key names and OIHW weights, so files move both ways between the two
 * implementations. Our metadata (`__metadata__`, every value a JSON string):
 *   format          "rbd-webgpu/1"
 *   architecture    {"planes":[..],"layers":[..],"norm":"group"|"batch","groups":32,
 *                    "numClasses":3,"inChannels":3,"classNames":[..]}
 *   magnification   number (e.g. 10), or null when unknown
 *   normalization   {"mean":[r,g,b],"std":[r,g,b]} applied to [0,1] pixels, or null
 *   training        free-form object (the run's configuration)
 *   epoch           number
 *
 * A file without our metadata (a PyTorch state_dict saved with safetensors) still loads: the
 * architecture is inferred from its names and shapes (see inferArchitecture), and explicit
 * overrides win. torchvision ResNet names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, fc)
 * are mapped to ours on load (models/torchvision_names.ts). BatchNorm's `num_batches_tracked` (I64) is accepted and ignored on load and
 * not written: PyTorch's load_state_dict fills it in when absent.
 */
import { Tensor, shapeStr } from '../engine/tensor.ts';
import { ResNet } from './resnet.ts';
import { validateArch, archToJson, type ResNetArch, type NormKind } from './arch.ts';
import { readSafetensors, writeSafetensors, type SafetensorsFile } from './safetensors.ts';
import { detectNaming, methodNames, type Naming } from './torchvision_names.ts';

export const CHECKPOINT_FORMAT = 'rbd-webgpu/1';

export interface Normalization {
  mean: number[];
  std: number[];
}

/** What a checkpoint says about itself besides the weights. */
export interface CheckpointInfo {
  arch: ResNetArch;
  classNames: string[];
  magnification: number | null;
  normalization: Normalization | null;
  training: Record<string, unknown>;
  epoch: number | null;
  /** True when the architecture came from tensor names/shapes, not from our metadata. */
  inferred: boolean;
  /** The file's tensor names: the method's, or torchvision's (mapped on load). */
  naming?: Naming;
}

export type CheckpointExtras = Partial<Omit<CheckpointInfo, 'arch' | 'inferred'>>;

/** A checkpoint that cannot be used: names the file, every problem, and the remedy. */
export class CheckpointError extends Error {
  constructor(file: string, detail: string) {
    super(`checkpoint ${file}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

/** Names that PyTorch state_dicts carry and we deliberately ignore. */
const IGNORED = /(^|\.)num_batches_tracked$/;

/** Download the model's state and write it with metadata, atomically. */
export async function saveCheckpoint(path: string, model: ResNet, extras: CheckpointExtras = {}) {
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, t] of model.stateDict()) entries.push([name, { shape: t.shape, data: (await t.read()) as Float32Array }]);
  const classNames = extras.classNames ?? defaultClassNames(model.arch.numClasses);
  if (classNames.length !== model.arch.numClasses)
    throw new CheckpointError(path, `${classNames.length} class names given for a model with ${model.arch.numClasses} classes`);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    architecture: JSON.stringify({ ...archToJson(model.arch), classNames }),
    magnification: JSON.stringify(extras.magnification ?? null),
    normalization: JSON.stringify(extras.normalization ?? null),
    training: JSON.stringify(extras.training ?? {}),
    epoch: JSON.stringify(extras.epoch ?? null),
  };
  writeSafetensors(path, entries, metadata);
}

export function defaultClassNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `class_${i}`);
}

function parseJsonField<T>(file: string, meta: Record<string, string>, key: string, fallback: T): T {
  if (!(key in meta)) return fallback;
  try {
    return JSON.parse(meta[key]) as T;
  } catch {
    throw new CheckpointError(file, `metadata '${key}' is not valid JSON: ${meta[key].slice(0, 80)}`);
  }
}

/**
 * Infer the ResNet from a state_dict's names and shapes: stem width and image channels from
 * `conv_1.weight` [P0, C, 7, 7]; stages and blocks per stage from the `layer_<s>.<b>.` keys;
 * each stage's width from `layer_<s>.0.conv_1.weight`; batch norm when running statistics
 * are present, else group norm; classes from `fc.weight` [classes, width]. GroupNorm's group
 * count is not stored anywhere: it defaults to the method's 32 and must be overridden
 * (`overrides.groups`) for other nets. Overrides replace any inferred field.
 */
export function inferArchitecture(file: string, shapes: Map<string, readonly number[]>, overrides: Partial<ResNetArch> = {}): ResNetArch {
  const missing = ['conv_1.weight', 'fc.weight'].filter((k) => !shapes.has(k));
  const blocks = new Map<number, number>();
  for (const name of shapes.keys()) {
    const m = /^layer_(\d+)\.(\d+)\./.exec(name);
    if (m) blocks.set(Number(m[1]), Math.max(blocks.get(Number(m[1])) ?? 0, Number(m[2]) + 1));
  }
  const stageCount = blocks.size ? Math.max(...blocks.keys()) : 0;
  const planes: number[] = [];
  const layers: number[] = [];
  for (let s = 1; s <= stageCount; s++) {
    const key = `layer_${s}.0.conv_1.weight`;
    const shape = shapes.get(key);
    if (!shape || !blocks.has(s)) missing.push(key);
    else {
      planes.push(shape[0]);
      layers.push(blocks.get(s)!);
    }
  }
  if (stageCount === 0) missing.push('layer_1.0.conv_1.weight');
  if (missing.length) {
    throw new CheckpointError(
      file,
      `cannot infer the architecture: no metadata, and missing ${missing.join(', ')} (is it a ResNet state_dict with the reference's names? otherwise give the architecture explicitly)`,
    );
  }
  const norm: NormKind = [...shapes.keys()].some((k) => k.endsWith('.running_mean') || k.endsWith('.running_var')) ? 'batch' : 'group';
  const arch: ResNetArch = {
    planes,
    layers,
    norm,
    groups: 32,
    numClasses: shapes.get('fc.weight')?.[0] ?? 0,
    inChannels: shapes.get('conv_1.weight')?.[1] ?? 0,
    ...overrides,
  };
  try {
    validateArch(arch);
  } catch (e) {
    const hint =
      arch.norm === 'group' && overrides.groups === undefined
        ? ' (GroupNorm groups are not stored in a state_dict; pass the group count)'
        : '';
    throw new CheckpointError(file, `inferred ${(e as Error).message}${hint}`);
  }
  return arch;
}

/** The checkpoint's description: our metadata when present, else inferred; overrides win. */
export function checkpointInfo(file: string, st: SafetensorsFile, overrides: Partial<ResNetArch> = {}): CheckpointInfo {
  const meta = st.metadata;
  if (meta.format === CHECKPOINT_FORMAT) {
    const stored = parseJsonField<Partial<ResNetArch> & { classNames?: string[] }>(file, meta, 'architecture', {});
    const { classNames, ...archFields } = stored;
    const arch = { ...(archFields as ResNetArch), ...overrides };
    try {
      validateArch(arch);
    } catch (e) {
      throw new CheckpointError(file, (e as Error).message);
    }
    return {
      arch,
      classNames: classNames && classNames.length === arch.numClasses ? classNames : defaultClassNames(arch.numClasses),
      magnification: parseJsonField(file, meta, 'magnification', null),
      normalization: parseJsonField(file, meta, 'normalization', null),
      training: parseJsonField(file, meta, 'training', {}),
      epoch: parseJsonField(file, meta, 'epoch', null),
      inferred: false,
    };
  }
  const shapes = new Map([...st.tensors].map(([k, v]) => [k, v.shape] as [string, readonly number[]]));
  const arch = inferArchitecture(file, shapes, overrides);
  return {
    arch,
    classNames: defaultClassNames(arch.numClasses),
    magnification: null,
    normalization: null,
    training: {},
    epoch: null,
    inferred: true,
  };
}

/**
 * Copy a file's tensors into the model. Every name and shape is checked first; all problems
 * (missing, unexpected, wrong shape, unusable dtype) are reported together, and nothing is
 * written unless all fit.
 */
export function loadState(model: { stateDict(): [string, Tensor][] }, st: SafetensorsFile, file: string, skip?: RegExp) {
  const problems: string[] = [];
  const expected = new Map(model.stateDict().filter(([name]) => !skip?.test(name)));
  for (const [name, t] of expected) {
    const s = st.tensors.get(name);
    if (!s) problems.push(`missing ${name} ${shapeStr(t.shape)}`);
    else if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i]))
      problems.push(`wrong shape for ${name}: file has ${shapeStr(s.shape)}, the model needs ${shapeStr(t.shape)}`);
    else if (!s.data) problems.push(`unusable dtype ${s.dtype} for ${name} (F32, F64, F16 or BF16 expected)`);
  }
  for (const name of st.tensors.keys())
    if (!expected.has(name) && !IGNORED.test(name) && !skip?.test(name))
      problems.push(`unexpected ${name} ${shapeStr(st.tensors.get(name)!.shape)}`);
  if (problems.length) {
    throw new CheckpointError(
      file,
      `does not fit the model (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  ${problems.join('\n  ')}\nRemedy: check the architecture (planes, layers, norm, classes) matches the file, or that the file is a checkpoint of this network.`,
    );
  }
  for (const [name, t] of expected) t.write(st.tensors.get(name)!.data!);
}

export interface LoadedCheckpoint {
  model: ResNet;
  info: CheckpointInfo;
}

/**
 * Build the checkpoint's ResNet (architecture from metadata or inferred, overrides win) and load
 * its weights. With `freshHead`, the classifier (fc) is not loaded but drawn anew for
 * `overrides.numClasses` classes (seed `seed`): starting from weights trained on other classes.
 */
export function loadCheckpoint(
  path: string,
  overrides: Partial<ResNetArch> = {},
  options: { freshHead?: boolean; seed?: number } = {},
): LoadedCheckpoint {
  let st: SafetensorsFile;
  try {
    st = readSafetensors(path);
  } catch (e) {
    throw new CheckpointError(path, (e as Error).message.replace(`${path}: `, ''));
  }
  const naming = detectNaming(st.tensors.keys());
  try {
    const renamed = methodNames(st.tensors.keys(), path);
    st = { metadata: st.metadata, tensors: new Map([...st.tensors].map(([k, v]) => [renamed.get(k)!, v])) };
  } catch (e) {
    throw new CheckpointError(path, (e as Error).message.replace(`${path}: `, ''));
  }
  const { numClasses: _classes, ...keptOverrides } = overrides;
  const stored = checkpointInfo(path, st, options.freshHead ? keptOverrides : overrides);
  const arch = options.freshHead && overrides.numClasses ? { ...stored.arch, numClasses: overrides.numClasses } : stored.arch;
  const info = {
    ...stored,
    arch,
    naming,
    classNames: arch.numClasses === stored.arch.numClasses ? stored.classNames : defaultClassNames(arch.numClasses),
  };
  const model = new ResNet(info.arch, options.seed ?? 0);
  try {
    loadState(model, st, path, options.freshHead ? /^fc\./ : undefined);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, info };
}
