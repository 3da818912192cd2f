/**
 * FLOP, parameter and activation-memory counts of the ResNet at a given input size, walked
 * layer by layer from the real output shapes (so odd sizes are exact). No GPU involved: it
 * reads the architecture description in models/arch.ts, as the module tree does.
 *
 * Conventions (one FLOP = one scalar add, multiply, compare or select):
 * - conv / linear: forward 2 FLOPs per multiply-add, every kernel tap counted, padding taps
 *   included (a dense convolution multiplies them), MACs = N*O*OH*OW*I*KH*KW; a bias adds 1
 *   per output. Backward: 2*MACs for the weight gradient, 2*MACs more for the input gradient
 *   when one is needed, i.e. 2x forward; the first conv computes no image gradient (1x forward),
 *   unless `inputGrad` asks for one. A bias gradient adds 1 per output.
 * - norm (group or batch): forward 8 per element (mean 1, variance 3 = subtract, square, add,
 *   normalize 2, affine 2); backward 13 per element (dy*weight 1, bias grad 1, recompute xhat 2,
 *   weight grad 2, the two reductions 1 + 2, dx = invstd*(g - m1 - xhat*m2) 4). Per-group
 *   scalar work (divisions, square roots) is not counted.
 * - relu: 1 per element forward (select), 1 backward.
 * - max pool: forward (taps inside the input - 1) compares per output (padding taps are -inf
 *   and need no compare); backward 1 add per output (routed to its argmax).
 * - adaptive average pool: forward bin-size per output (bin - 1 adds and one scale); backward
 *   bin-size per output (one scaled add per input of the bin).
 * - residual add: 1 per element forward; backward 0 (the gradient passes through unchanged).
 * The table lists the network's layers as its math has them (norm, relu, add apart). With
 * GroupNorm the model runs norm -> ReLU and norm -> add -> ReLU as one op (groupNormRelu,
 * engine/ops/group_norm_act.ts) that does the same arithmetic and states the sum of these
 * layers' counts with its dispatches (test/bench/profile.test.ts checks that they agree).
 * Activation memory for training: the input image plus every layer's output in float32, all
 * alive when the backward pass starts (each is saved by the op that consumes it, or is the
 * input of the loss).
 */
import { blockPlan, validateArch, type ResNetArch } from './arch.ts';

export type LayerKind = 'conv' | 'norm' | 'relu' | 'maxpool' | 'avgpool' | 'add' | 'linear';

/** Per-element (or per-output) FLOP counts used for non-GEMM layers; see the file comment. */
export const ELEMENTWISE_FLOPS = {
  norm: { forward: 8, backward: 13 },
  relu: { forward: 1, backward: 1 },
  add: { forward: 1, backward: 0 },
} as const;

export interface LayerCount {
  /** Dotted module name, e.g. `layer_2.0.conv_1`, `layer_2.0.downsample.1`, `layer_2.0.add`. */
  name: string;
  kind: LayerKind;
  /** Output shape, NCHW (or [N, classes] for fc). */
  output: number[];
  params: number;
  forwardFlops: number;
  backwardFlops: number;
  /** Bytes of this layer's float32 output kept for the backward pass. */
  activationBytes: number;
  /** Conv layers: the input shape (NCHW) and the square kernel, stride and padding. */
  conv?: { input: number[]; kernel: number; stride: number; padding: number };
}

export interface FlopReport {
  input: number[];
  layers: LayerCount[];
  total: { params: number; forwardFlops: number; backwardFlops: number; activationBytes: number };
  /** Forward and backward FLOPs summed per layer kind. */
  byKind: Record<LayerKind, { forward: number; backward: number }>;
}

export interface FlopOptions {
  /** Batch size (default 1). */
  batch?: number;
  /** Count the image gradient of the first conv (default false: training never needs it). */
  inputGrad?: boolean;
}

/** Output length of a conv or pool along one axis (PyTorch's floor formula). */
export function convOutSize(size: number, kernel: number, stride: number, padding: number, dilation = 1): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Sum over output positions of how many window taps fall inside [0, size). */
function tapsInside(size: number, out: number, kernel: number, stride: number, padding: number): number {
  let taps = 0;
  for (let o = 0; o < out; o++) {
    const start = o * stride - padding;
    taps += Math.max(0, Math.min(start + kernel, size) - Math.max(start, 0));
  }
  return taps;
}

/** Sum of adaptive-pool bin lengths along one axis: bin i spans [floor(i*in/out), ceil((i+1)*in/out)). */
function adaptiveBinTotal(size: number, out: number): number {
  let total = 0;
  for (let i = 0; i < out; i++) total += Math.ceil(((i + 1) * size) / out) - Math.floor((i * size) / out);
  return total;
}

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Count the ResNet `arch` on images [batch, inChannels, H, W]. */
export function countFlops(arch: ResNetArch, [h, w]: [number, number], opts: FlopOptions = {}): FlopReport {
  validateArch(arch);
  const n = opts.batch ?? 1;
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new Error(`countFlops: batch and input size must be whole numbers >= 1, got batch ${n}, ${h}x${w}`);
  }
  const layers: LayerCount[] = [];
  const push = (name: string, kind: LayerKind, output: number[], params: number, forwardFlops: number, backwardFlops: number) => {
    layers.push({ name, kind, output, params, forwardFlops, backwardFlops, activationBytes: 4 * prod(output) });
  };

  const conv = (name: string, x: number[], out: number, k: number, stride: number, pad: number, imageGrad: boolean): number[] => {
    const [, c, ih, iw] = x;
    const y = [n, out, convOutSize(ih, k, stride, pad), convOutSize(iw, k, stride, pad)];
    const macs = prod(y) * c * k * k;
    push(name, 'conv', y, out * c * k * k, 2 * macs, imageGrad ? 4 * macs : 2 * macs);
    layers[layers.length - 1].conv = { input: x, kernel: k, stride, padding: pad };
    return y;
  };
  const norm = (name: string, x: number[]) => {
    const e = prod(x);
    push(name, 'norm', x, 2 * x[1], ELEMENTWISE_FLOPS.norm.forward * e, ELEMENTWISE_FLOPS.norm.backward * e);
    return x;
  };
  const relu = (name: string, x: number[]) => {
    const e = prod(x);
    push(name, 'relu', x, 0, ELEMENTWISE_FLOPS.relu.forward * e, ELEMENTWISE_FLOPS.relu.backward * e);
    return x;
  };

  const input = [n, arch.inChannels, h, w];
  let x = conv('conv_1', input, arch.planes[0], 7, 2, 3, opts.inputGrad ?? false);
  x = norm('norm_1', x);
  x = relu('relu', x);
  {
    const [, c, ih, iw] = x;
    const oh = convOutSize(ih, 3, 2, 1);
    const ow = convOutSize(iw, 3, 2, 1);
    const y = [n, c, oh, ow];
    const taps = n * c * tapsInside(ih, oh, 3, 2, 1) * tapsInside(iw, ow, 3, 2, 1);
    push('maxpool', 'maxpool', y, 0, taps - prod(y), prod(y));
    x = y;
  }
  for (const b of blockPlan(arch)) {
    const blockIn = x;
    let y = conv(`${b.name}.conv_1`, blockIn, b.planes, 3, b.stride, 1, true);
    y = norm(`${b.name}.norm_1`, y);
    y = relu(`${b.name}.relu_1`, y);
    y = conv(`${b.name}.conv_2`, y, b.planes, 3, 1, 1, true);
    y = norm(`${b.name}.norm_2`, y);
    if (b.downsample) {
      const d = conv(`${b.name}.downsample.0`, blockIn, b.planes, 1, b.stride, 0, true);
      norm(`${b.name}.downsample.1`, d);
    }
    const e = prod(y);
    push(`${b.name}.add`, 'add', y, 0, ELEMENTWISE_FLOPS.add.forward * e, ELEMENTWISE_FLOPS.add.backward * e);
    x = relu(`${b.name}.relu_2`, y);
  }
  {
    const [, c, ih, iw] = x;
    const bins = adaptiveBinTotal(ih, 1) * adaptiveBinTotal(iw, 1);
    push('avgpool', 'avgpool', [n, c, 1, 1], 0, n * c * bins, n * c * bins);
    const classes = arch.numClasses;
    const macs = n * c * classes;
    // fc: weight and bias; its input gradient is always needed (it feeds the whole network).
    push('fc', 'linear', [n, classes], classes * c + classes, 2 * macs + n * classes, 4 * macs + n * classes);
  }

  const byKind = Object.fromEntries(
    (['conv', 'norm', 'relu', 'maxpool', 'avgpool', 'add', 'linear'] as LayerKind[]).map((k) => [k, { forward: 0, backward: 0 }]),
  ) as FlopReport['byKind'];
  const total = { params: 0, forwardFlops: 0, backwardFlops: 0, activationBytes: 4 * prod(input) };
  for (const l of layers) {
    total.params += l.params;
    total.forwardFlops += l.forwardFlops;
    total.backwardFlops += l.backwardFlops;
    total.activationBytes += l.activationBytes;
    byKind[l.kind].forward += l.forwardFlops;
    byKind[l.kind].backward += l.backwardFlops;
  }
  return { input, layers, total, byKind };
}
