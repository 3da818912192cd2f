/**
 * The ResNet's forward pass in float64 on the CPU, composed from the reference ops in
 * engine/reference/ (plain loops following PyTorch's semantics). It reads the weights by their
 * checkpoint names, so it checks the GPU model, the module tree and the naming at once.
 * Slow by design: for tests on small nets and inputs.
 */
import { blockPlan, type ResNetArch } from './arch.ts';
import { conv2dRef, type Shape4 } from '../engine/reference/conv2d.ts';
import { groupNormForward } from '../engine/reference/group_norm.ts';
import { batchNormForward } from '../engine/reference/batch_norm.ts';
import { reluForward } from '../engine/reference/relu.ts';
import { maxPoolForward, maxPoolOutputSize } from '../engine/reference/max_pool2d.ts';
import { adaptiveAvgPoolForward } from '../engine/reference/adaptive_pool2d.ts';
import { linearRef } from '../engine/reference/matmul.ts';

/** An activation and its NCHW shape. */
interface Act {
  x: Float64Array;
  shape: Shape4;
}

export interface ReferenceOutput {
  features: Float64Array;
  featuresShape: Shape4;
  logits: Float64Array;
  /** Batch norm in training mode: every running_mean / running_var after the pass, by name. */
  runningStats: Map<string, Float64Array>;
}

/**
 * Forward `input` [N, C, H, W] through the ResNet `arch` whose parameters and buffers are in
 * `state` (checkpoint names). `training` selects batch statistics for batch norm (and updates
 * of its running statistics, returned in `runningStats`); group norm ignores it.
 */
export function referenceResNetForward(arch: ResNetArch, state: Map<string, Float64Array>, input: Float64Array, inputShape: Shape4, training: boolean): ReferenceOutput {
  const get = (name: string) => {
    const v = state.get(name);
    if (!v) throw new Error(`referenceResNetForward: no tensor '${name}' in the state`);
    return v;
  };
  const runningStats = new Map<string, Float64Array>();

  const conv = (name: string, a: Act, out: number, k: number, stride: number, padding: number): Act => {
    const wShape: Shape4 = [out, a.shape[1], k, k];
    const { y, shape } = conv2dRef(a.x, a.shape, get(`${name}.weight`), wShape, null, { stride: [stride, stride], padding: [padding, padding], dilation: [1, 1] });
    return { x: y, shape };
  };
  const norm = (name: string, a: Act): Act => {
    const [n, c, h, w] = a.shape;
    const weight = get(`${name}.weight`);
    const bias = get(`${name}.bias`);
    if (arch.norm === 'group') return { x: groupNormForward(a.x, weight, bias, { n, c, h, w, groups: arch.groups, eps: 1e-5 }), shape: a.shape };
    const r = batchNormForward(a.x, weight, bias, get(`${name}.running_mean`), get(`${name}.running_var`), { n, c, h, w, eps: 1e-5, momentum: 0.1, training });
    runningStats.set(`${name}.running_mean`, r.runningMean);
    runningStats.set(`${name}.running_var`, r.runningVar);
    return { x: r.y, shape: a.shape };
  };
  const relu = (a: Act): Act => ({ x: reluForward(a.x), shape: a.shape });

  let a: Act = { x: input, shape: inputShape };
  a = relu(norm('norm_1', conv('conv_1', a, arch.planes[0], 7, 2, 3)));
  {
    const [n, c, h, w] = a.shape;
    const pool = { n, c, h, w, kernel: [3, 3] as [number, number], stride: [2, 2] as [number, number], padding: [1, 1] as [number, number] };
    const [oh, ow] = maxPoolOutputSize(pool);
    a = { x: maxPoolForward(a.x, pool).y, shape: [n, c, oh, ow] };
  }
  for (const b of blockPlan(arch)) {
    const main = norm(`${b.name}.norm_2`, conv(`${b.name}.conv_2`, relu(norm(`${b.name}.norm_1`, conv(`${b.name}.conv_1`, a, b.planes, 3, b.stride, 1))), b.planes, 3, 1, 1));
    const identity = b.downsample ? norm(`${b.name}.downsample.1`, conv(`${b.name}.downsample.0`, a, b.planes, 1, b.stride, 0)) : a;
    a = relu({ x: main.x.map((v, i) => v + identity.x[i]), shape: main.shape });
  }
  const [n, c, h, w] = a.shape;
  const pooled = adaptiveAvgPoolForward(a.x, { n, c, h, w, oh: 1, ow: 1 });
  const logits = linearRef(pooled, get('fc.weight'), get('fc.bias'), n, c, arch.numClasses);
  return { features: a.x, featuresShape: a.shape, logits, runningStats };
}
