/**
 * The distillation ResNet (DiPalma et al., arXiv 2101.04170), teacher and student alike.
 *
 *   x [N,3,H,W] -> conv_1 7x7/2 p3 -> norm_1 -> ReLU -> max-pool 3x3/2 p1
 *     -> layer_1 .. layer_k (BasicBlocks; the first block of stages 2.. strides by 2)
 *     -> features [N, planes[k-1], H/32-ish, W/32-ish]
 *     -> adaptive average pool 1x1 -> fc -> logits [N, numClasses]
 *
 * Parameter names follow the PyTorch reference (`conv_1.weight`, `layer_2.0.downsample.0.weight`,
 * `fc.bias`, ...), so its state_dict and ours are the same set of keys and shapes.
 */
import { Tensor, tidy } from '../engine/tensor.ts';
import { Rng } from '../engine/random.ts';
import { ShapeError } from '../engine/errors.ts';
import { add } from '../engine/ops/add.ts';
import { relu } from '../engine/ops/relu.ts';
import { reshape } from '../engine/ops/reshape.ts';
import { Module, Layer, Sequential } from './module.ts';
import { Conv2d, GroupNorm, BatchNorm2d, Linear, MaxPool2d, AdaptiveAvgPool2d } from './layers.ts';
import { blockPlan, validateArch, type ResNetArch, type BlockPlan } from './arch.ts';

function makeNorm(arch: ResNetArch, channels: number): Layer {
  return arch.norm === 'group' ? new GroupNorm(arch.groups, channels) : new BatchNorm2d(channels);
}

/**
 * relu(norm(x) + residual) (residual optional). GroupNorm runs it as one fused op (the ReLU and
 * the add ride in the normalization's passes: fewer dispatches and activation passes, forward
 * and backward); BatchNorm as its three ops.
 */
function normRelu(norm: Layer, x: Tensor, residual: Tensor | null = null): Tensor {
  if (norm instanceof GroupNorm) return norm.forwardRelu(x, residual);
  const y = norm.forward(x);
  return relu(residual ? add(y, residual) : y);
}

/**
 * conv3x3(stride) -> norm -> ReLU -> conv3x3 -> norm, plus the identity (or, where stride or
 * width changes, conv1x1(stride) -> norm); add; ReLU. The add comes before the last ReLU.
 * norm_2, the add and the last ReLU run as one op with GroupNorm (normRelu), after the downsample.
 */
export class BasicBlock extends Layer {
  readonly conv_1: Conv2d;
  readonly norm_1: Layer;
  readonly conv_2: Conv2d;
  readonly norm_2: Layer;
  readonly downsample: Sequential | null;
  constructor(rng: Rng, arch: ResNetArch, plan: BlockPlan) {
    super();
    this.conv_1 = this.registerModule('conv_1', new Conv2d(rng, plan.inPlanes, plan.planes, 3, { stride: plan.stride, padding: 1 }));
    this.norm_1 = this.registerModule('norm_1', makeNorm(arch, plan.planes));
    this.conv_2 = this.registerModule('conv_2', new Conv2d(rng, plan.planes, plan.planes, 3, { padding: 1 }));
    this.norm_2 = this.registerModule('norm_2', makeNorm(arch, plan.planes));
    this.downsample = plan.downsample
      ? this.registerModule(
          'downsample',
          new Sequential(new Conv2d(rng, plan.inPlanes, plan.planes, 1, { stride: plan.stride }), makeNorm(arch, plan.planes)),
        )
      : null;
  }
  forward(x: Tensor): Tensor {
    const main = this.conv_2.forward(normRelu(this.norm_1, this.conv_1.forward(x)));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return normRelu(this.norm_2, main, identity);
  }
}

export interface ResNetOutput {
  /** The last stage's feature map [N, planes[-1], h, w] (what the pixel loss compares). */
  features: Tensor;
  logits: Tensor;
}

export class ResNet extends Module {
  readonly arch: ResNetArch;
  readonly conv_1: Conv2d;
  readonly norm_1: Layer;
  readonly maxpool: MaxPool2d;
  readonly stages: Sequential[];
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;

  /** Build with fresh weights drawn from `seed` (same seed, same weights). */
  constructor(arch: ResNetArch, seed = 0) {
    super();
    validateArch(arch);
    this.arch = { ...arch, planes: [...arch.planes], layers: [...arch.layers] };
    const rng = new Rng(seed);
    const stem = arch.planes[0];
    this.conv_1 = this.registerModule('conv_1', new Conv2d(rng, arch.inChannels, stem, 7, { stride: 2, padding: 3 }));
    this.norm_1 = this.registerModule('norm_1', makeNorm(arch, stem));
    this.maxpool = new MaxPool2d(3, 2, 1);
    const plans = blockPlan(arch);
    this.stages = arch.planes.map((_, s) => {
      const blocks = plans.filter((p) => p.name.startsWith(`layer_${s + 1}.`)).map((p) => new BasicBlock(rng, arch, p));
      return this.registerModule(`layer_${s + 1}`, new Sequential(...blocks));
    });
    this.avgpool = new AdaptiveAvgPool2d([1, 1]);
    this.fc = this.registerModule('fc', new Linear(rng, arch.planes[arch.planes.length - 1], arch.numClasses));
    // Full dotted names make error messages and checkpoints self-explanatory.
    for (const [name, t] of this.stateDict()) t.name = name;
  }

  /** x [N, inChannels, H, W] f32 -> stage-4 features and logits. Intermediates are freed. */
  forward(x: Tensor): ResNetOutput {
    const c = this.arch.inChannels;
    if (x.rank !== 4 || x.shape[1] !== c || x.dtype !== 'f32') {
      throw new ShapeError('ResNet', `input ${x.label} must be f32 [N, ${c}, H, W] (NCHW images with ${c} channels)`);
    }
    return tidy(() => {
      let y = this.maxpool.forward(normRelu(this.norm_1, this.conv_1.forward(x)));
      for (const stage of this.stages) y = stage.forward(y);
      const features = y;
      const pooled = this.avgpool.forward(features);
      const logits = this.fc.forward(reshape(pooled, [pooled.shape[0], pooled.shape[1]]));
      return { features, logits };
    });
  }

  /** Number of trainable values. */
  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }
}
