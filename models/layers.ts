/**
 * The layers the ResNet is built from, each a thin module over one op of engine/ops: it owns
 * the parameters (named as PyTorch names them, so checkpoints carry over) and calls the op.
 * Layouts: activations NCHW, conv weights OIHW, linear weights [out, in].
 */
import { Tensor } from '../engine/tensor.ts';
import type { Rng } from '../engine/random.ts';
import { conv2d, type Pair, type Conv2dOptions } from '../engine/ops/conv2d.ts';
import { linear } from '../engine/ops/linear.ts';
import { relu } from '../engine/ops/relu.ts';
import { groupNorm } from '../engine/ops/group_norm.ts';
import { groupNormRelu } from '../engine/ops/group_norm_act.ts';
import { batchNorm } from '../engine/ops/batch_norm.ts';
import { maxPool2d } from '../engine/ops/max_pool2d.ts';
import { adaptiveAvgPool2d } from '../engine/ops/adaptive_avg_pool2d.ts';
import { Layer } from './module.ts';
import { kaimingNormalFanOut, linearDefaultUniform } from './init.ts';

export interface Conv2dLayerOptions extends Conv2dOptions {
  /** Learnable bias per output channel (PyTorch's default is true; the ResNet uses none). */
  bias?: boolean;
}

function pair(v: Pair): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** conv2d with weight [outChannels, inChannels, KH, KW] (Kaiming normal fan_out init); bias (zeros) optional. */
export class Conv2d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  constructor(
    rng: Rng,
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: Pair,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const [kh, kw] = pair(kernel);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    const shape = [outChannels, inChannels, kh, kw] as const;
    this.weight = this.registerParameter('weight', Tensor.from(kaimingNormalFanOut(rng, shape), shape));
    this.bias = opts.bias ? this.registerParameter('bias', Tensor.zeros([outChannels])) : null;
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation });
  }
}

/** GroupNorm over contiguous channel groups, affine weight 1 / bias 0 at init. */
export class GroupNorm extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly groups: number,
    readonly channels: number,
    readonly eps = 1e-5,
  ) {
    super();
    if (channels % groups !== 0) throw new Error(`GroupNorm: ${groups} groups do not divide ${channels} channels`);
    this.weight = this.registerParameter('weight', Tensor.full([channels], 1));
    this.bias = this.registerParameter('bias', Tensor.zeros([channels]));
  }
  forward(x: Tensor): Tensor {
    return groupNorm(x, this.weight, this.bias, this.groups, this.eps);
  }
  /**
   * relu(this(x) + residual) (residual optional) in one op (engine/ops/group_norm_act.ts): the
   * same arithmetic as forward, add and relu, without their separate passes over the activation.
   */
  forwardRelu(x: Tensor, residual: Tensor | null = null): Tensor {
    return groupNormRelu(x, this.weight, this.bias, this.groups, residual, this.eps);
  }
}

/**
 * BatchNorm2d with PyTorch's semantics: training mode normalizes with batch statistics and
 * updates `running_mean` / `running_var` in place; eval mode uses the running ones.
 */
export class BatchNorm2d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  constructor(
    readonly channels: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.registerParameter('weight', Tensor.full([channels], 1));
    this.bias = this.registerParameter('bias', Tensor.zeros([channels]));
    this.runningMean = this.registerBuffer('running_mean', Tensor.zeros([channels]));
    this.runningVar = this.registerBuffer('running_var', Tensor.full([channels], 1));
  }
  forward(x: Tensor): Tensor {
    return batchNorm(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

/** y = x w^T + b, weight [outFeatures, inFeatures]; PyTorch's default uniform init. */
export class Linear extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    rng: Rng,
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super();
    this.weight = this.registerParameter(
      'weight',
      Tensor.from(linearDefaultUniform(rng, outFeatures * inFeatures, inFeatures), [outFeatures, inFeatures]),
    );
    this.bias = bias
      ? this.registerParameter('bias', Tensor.from(linearDefaultUniform(rng, outFeatures, inFeatures), [outFeatures]))
      : null;
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class ReLU extends Layer {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class MaxPool2d extends Layer {
  constructor(
    readonly kernel: Pair,
    readonly stride: Pair = kernel,
    readonly padding: Pair = 0,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding });
  }
}

export class AdaptiveAvgPool2d extends Layer {
  constructor(readonly outputSize: [number, number]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}
