/**
 * The ResNet architecture as plain data, with no GPU in sight: the module tree
 * (models/resnet.ts), the FLOP counter (models/flops.ts) and checkpoint architecture
 * inference (models/checkpoint.ts) all read the same description, so they cannot disagree
 * about where a block downsamples.
 *
 * Network (the paper's: DiPalma et al., arXiv 2101.04170): stem conv 7x7/2 (pad 3, no bias) -> norm -> ReLU
 * -> max-pool 3x3/2 (pad 1); then one stage per entry of `planes`, `layers[i]` BasicBlocks
 * each, the first block of every stage but the first striding by 2; then adaptive average
 * pool to 1x1 and a linear layer. The stem is as wide as the first stage.
 */

export type NormKind = 'group' | 'batch';

export interface ResNetArch {
  /** Width of each stage (the stem has planes[0] channels). */
  planes: number[];
  /** BasicBlocks per stage. */
  layers: number[];
  norm: NormKind;
  /** GroupNorm groups (ignored for batch norm); must divide every width. */
  groups: number;
  numClasses: number;
  /** Image channels (3 for RGB). */
  inChannels: number;
}

/** The method's network: planes 32,64,128,256, one block per stage, GroupNorm(32). */
export const RBD_ARCH: Readonly<ResNetArch> = Object.freeze({
  planes: [32, 64, 128, 256],
  layers: [1, 1, 1, 1],
  norm: 'group',
  groups: 32,
  numClasses: 3,
  inChannels: 3,
});

/** ResNet-18 widths and depths (64..512, two blocks per stage), GroupNorm(32) by default. */
export const RESNET18_ARCH: Readonly<ResNetArch> = Object.freeze({
  planes: [64, 128, 256, 512],
  layers: [2, 2, 2, 2],
  norm: 'group',
  groups: 32,
  numClasses: 3,
  inChannels: 3,
});

export const PRESETS: Record<string, Readonly<ResNetArch>> = { rbd: RBD_ARCH, resnet18: RESNET18_ARCH };

/** A preset by name with some fields replaced; validated. */
export function presetArch(name: string, overrides: Partial<ResNetArch> = {}): ResNetArch {
  const base = PRESETS[name];
  if (!base) throw new Error(`unknown architecture preset '${name}'; choose one of: ${Object.keys(PRESETS).join(', ')}`);
  const arch = { ...base, planes: [...base.planes], layers: [...base.layers], ...overrides };
  validateArch(arch);
  return arch;
}

/** Throw one error listing every problem with an architecture. */
export function validateArch(arch: ResNetArch) {
  const problems: string[] = [];
  const posInts = (name: string, v: unknown) => {
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => !Number.isInteger(x) || x < 1))
      problems.push(`${name} must be a non-empty list of whole numbers >= 1, got ${JSON.stringify(v)}`);
  };
  posInts('planes', arch.planes);
  posInts('layers', arch.layers);
  if (Array.isArray(arch.planes) && Array.isArray(arch.layers) && arch.planes.length !== arch.layers.length) {
    problems.push(`planes (${arch.planes.length} stages) and layers (${arch.layers.length} stages) must have the same length`);
  }
  if (arch.norm !== 'group' && arch.norm !== 'batch') problems.push(`norm must be 'group' or 'batch', got ${JSON.stringify(arch.norm)}`);
  if (!Number.isInteger(arch.numClasses) || arch.numClasses < 1)
    problems.push(`numClasses must be a whole number >= 1, got ${arch.numClasses}`);
  if (!Number.isInteger(arch.inChannels) || arch.inChannels < 1)
    problems.push(`inChannels must be a whole number >= 1, got ${arch.inChannels}`);
  if (arch.norm === 'group') {
    if (!Number.isInteger(arch.groups) || arch.groups < 1) problems.push(`groups must be a whole number >= 1, got ${arch.groups}`);
    else if (Array.isArray(arch.planes)) {
      const bad = arch.planes.filter((p) => p % arch.groups !== 0);
      if (bad.length)
        problems.push(
          `GroupNorm groups=${arch.groups} must divide every width, but not ${bad.join(', ')} (choose groups dividing ${arch.planes.join(', ')})`,
        );
    }
  }
  if (problems.length) throw new Error(`invalid ResNet architecture: ${problems.join('; ')}`);
}

/** One BasicBlock's geometry. */
export interface BlockPlan {
  /** Dotted module name, e.g. `layer_2.0`. */
  name: string;
  inPlanes: number;
  planes: number;
  stride: number;
  /** True where the identity cannot be added as is (stride or width changes). */
  downsample: boolean;
}

/** Every BasicBlock in forward order, with its PyTorch-style name. */
export function blockPlan(arch: ResNetArch): BlockPlan[] {
  const out: BlockPlan[] = [];
  let inPlanes = arch.planes[0];
  arch.planes.forEach((planes, s) => {
    for (let b = 0; b < arch.layers[s]; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      out.push({ name: `layer_${s + 1}.${b}`, inPlanes, planes, stride, downsample: stride !== 1 || inPlanes !== planes });
      inPlanes = planes;
    }
  });
  return out;
}

/** The JSON-able form stored in checkpoint metadata. */
export function archToJson(arch: ResNetArch): Record<string, unknown> {
  return {
    planes: arch.planes,
    layers: arch.layers,
    norm: arch.norm,
    groups: arch.groups,
    numClasses: arch.numClasses,
    inChannels: arch.inChannels,
  };
}
