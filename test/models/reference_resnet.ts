/**
 * The ResNet's forward pass in float64 on the CPU, composed from the reference ops in
 * engine/reference/ (plain loops following PyTorch's semantics). It reads the weights by their
 * checkpoint names, so it checks the GPU model, the module tree and the naming at once.
 * Slow by design: for tests on small nets and inputs. Used only by tests (hence under test/).
 *
 * `referenceResNetBackward` differentiates the same forward in float64 (group norm only), by
 * the reference ops' analytic backward rules: the independent side of the training-trajectory test.
 */
import { blockPlan, type ResNetArch } from '../../models/arch.ts';
import { conv2dRef, conv2dBackwardRef, type Shape4, type ConvParamsRef } from '../../engine/reference/conv2d.ts';
import { groupNormForward, groupNormBackward } from '../../engine/reference/group_norm.ts';
import { batchNormForward } from '../../engine/reference/batch_norm.ts';
import { reluForward, reluBackward } from '../../engine/reference/relu.ts';
import { maxPoolForward, maxPoolBackward, maxPoolOutputSize } from '../../engine/reference/max_pool2d.ts';
import { adaptiveAvgPoolForward, adaptiveAvgPoolBackward } from '../../engine/reference/adaptive_pool2d.ts';
import { linearRef, linearBackwardRef } from '../../engine/reference/matmul.ts';

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
export function referenceResNetForward(
  arch: ResNetArch,
  state: Map<string, Float64Array>,
  input: Float64Array,
  inputShape: Shape4,
  training: boolean,
): ReferenceOutput {
  const get = (name: string) => {
    const v = state.get(name);
    if (!v) throw new Error(`referenceResNetForward: no tensor '${name}' in the state`);
    return v;
  };
  const runningStats = new Map<string, Float64Array>();

  const conv = (name: string, a: Act, out: number, k: number, stride: number, padding: number): Act => {
    const wShape: Shape4 = [out, a.shape[1], k, k];
    const { y, shape } = conv2dRef(a.x, a.shape, get(`${name}.weight`), wShape, null, {
      stride: [stride, stride],
      padding: [padding, padding],
      dilation: [1, 1],
    });
    return { x: y, shape };
  };
  const norm = (name: string, a: Act): Act => {
    const [n, c, h, w] = a.shape;
    const weight = get(`${name}.weight`);
    const bias = get(`${name}.bias`);
    if (arch.norm === 'group')
      return { x: groupNormForward(a.x, weight, bias, { n, c, h, w, groups: arch.groups, eps: 1e-5 }), shape: a.shape };
    const r = batchNormForward(a.x, weight, bias, get(`${name}.running_mean`), get(`${name}.running_var`), {
      n,
      c,
      h,
      w,
      eps: 1e-5,
      momentum: 0.1,
      training,
    });
    runningStats.set(`${name}.running_mean`, r.runningMean);
    runningStats.set(`${name}.running_var`, r.runningVar);
    return { x: r.y, shape: a.shape };
  };
  const relu = (a: Act): Act => ({ x: reluForward(a.x), shape: a.shape });

  let a: Act = { x: input, shape: inputShape };
  a = relu(norm('norm_1', conv('conv_1', a, arch.planes[0], 7, 2, 3)));
  {
    const [n, c, h, w] = a.shape;
    const pool = {
      n,
      c,
      h,
      w,
      kernel: [3, 3] as [number, number],
      stride: [2, 2] as [number, number],
      padding: [1, 1] as [number, number],
    };
    const [oh, ow] = maxPoolOutputSize(pool);
    a = { x: maxPoolForward(a.x, pool).y, shape: [n, c, oh, ow] };
  }
  for (const b of blockPlan(arch)) {
    const main = norm(
      `${b.name}.norm_2`,
      conv(`${b.name}.conv_2`, relu(norm(`${b.name}.norm_1`, conv(`${b.name}.conv_1`, a, b.planes, 3, b.stride, 1))), b.planes, 3, 1, 1),
    );
    const identity = b.downsample ? norm(`${b.name}.downsample.1`, conv(`${b.name}.downsample.0`, a, b.planes, 1, b.stride, 0)) : a;
    a = relu({ x: main.x.map((v, i) => v + identity.x[i]), shape: main.shape });
  }
  const [n, c, h, w] = a.shape;
  const pooled = adaptiveAvgPoolForward(a.x, { n, c, h, w, oh: 1, ow: 1 });
  const logits = linearRef(pooled, get('fc.weight'), get('fc.bias'), n, c, arch.numClasses);
  return { features: a.x, featuresShape: a.shape, logits, runningStats };
}

/** An activation on the backward tape: its value, shape and (once reached) its gradient. */
interface TapeAct extends Act {
  grad: Float64Array;
}

/**
 * The float64 gradients of L with respect to every parameter of a group-norm ResNet, given
 * dL/dfeatures and dL/dlogits of the forward at `input`: the forward is replayed with a tape of
 * the reference ops' analytic backward rules (conv2dBackwardRef, groupNormBackward, ...), run in
 * reverse. Returns gradients by checkpoint name.
 */
export function referenceResNetBackward(
  arch: ResNetArch,
  state: Map<string, Float64Array>,
  input: Float64Array,
  inputShape: Shape4,
  dFeatures: Float64Array,
  dLogits: Float64Array,
): Map<string, Float64Array> {
  if (arch.norm !== 'group') throw new Error('referenceResNetBackward: group norm only');
  const get = (name: string) => {
    const v = state.get(name);
    if (!v) throw new Error(`referenceResNetBackward: no tensor '${name}' in the state`);
    return v;
  };
  const grads = new Map<string, Float64Array>();
  const addGrad = (name: string, g: Float64Array) => {
    const acc = grads.get(name);
    if (acc) g.forEach((v, i) => (acc[i] += v));
    else grads.set(name, Float64Array.from(g));
  };
  const tape: (() => void)[] = [];
  const act = (x: Float64Array, shape: Shape4): TapeAct => ({ x, shape, grad: new Float64Array(x.length) });
  const addTo = (a: TapeAct, g: Float64Array) => g.forEach((v, i) => (a.grad[i] += v));

  const conv = (name: string, a: TapeAct, out: number, k: number, stride: number, padding: number): TapeAct => {
    const wShape: Shape4 = [out, a.shape[1], k, k];
    const w = get(`${name}.weight`);
    const p: ConvParamsRef = { stride: [stride, stride], padding: [padding, padding], dilation: [1, 1] };
    const { y, shape } = conv2dRef(a.x, a.shape, w, wShape, null, p);
    const o = act(y, shape);
    tape.push(() => {
      const r = conv2dBackwardRef(a.x, a.shape, w, wShape, o.grad, p);
      addTo(a, r.dx);
      addGrad(`${name}.weight`, r.dw);
    });
    return o;
  };
  const norm = (name: string, a: TapeAct): TapeAct => {
    const [n, c, h, w] = a.shape;
    const weight = get(`${name}.weight`);
    const s = { n, c, h, w, groups: arch.groups, eps: 1e-5 };
    const o = act(groupNormForward(a.x, weight, get(`${name}.bias`), s), a.shape);
    tape.push(() => {
      const r = groupNormBackward(a.x, weight, o.grad, s);
      addTo(a, r.dx);
      addGrad(`${name}.weight`, r.dweight);
      addGrad(`${name}.bias`, r.dbias);
    });
    return o;
  };
  const relu = (a: TapeAct): TapeAct => {
    const o = act(reluForward(a.x), a.shape);
    tape.push(() => addTo(a, reluBackward(a.x, o.grad)));
    return o;
  };

  let a = act(input, inputShape);
  a = relu(norm('norm_1', conv('conv_1', a, arch.planes[0], 7, 2, 3)));
  {
    const prev = a;
    const [n, c, h, w] = prev.shape;
    const pool = {
      n,
      c,
      h,
      w,
      kernel: [3, 3] as [number, number],
      stride: [2, 2] as [number, number],
      padding: [1, 1] as [number, number],
    };
    const [oh, ow] = maxPoolOutputSize(pool);
    const o = act(maxPoolForward(prev.x, pool).y, [n, c, oh, ow]);
    tape.push(() => addTo(prev, maxPoolBackward(prev.x, o.grad, pool)));
    a = o;
  }
  for (const b of blockPlan(arch)) {
    const blockIn = a;
    const main = norm(
      `${b.name}.norm_2`,
      conv(
        `${b.name}.conv_2`,
        relu(norm(`${b.name}.norm_1`, conv(`${b.name}.conv_1`, blockIn, b.planes, 3, b.stride, 1))),
        b.planes,
        3,
        1,
        1,
      ),
    );
    const identity = b.downsample
      ? norm(`${b.name}.downsample.1`, conv(`${b.name}.downsample.0`, blockIn, b.planes, 1, b.stride, 0))
      : blockIn;
    const sum = act(
      main.x.map((v, i) => v + identity.x[i]),
      main.shape,
    );
    tape.push(() => {
      addTo(main, sum.grad);
      addTo(identity, sum.grad);
    });
    a = relu(sum);
  }
  const features = a;
  const [n, c, h, w] = features.shape;
  const poolShape = { n, c, h, w, oh: 1, ow: 1 };
  const pooled = adaptiveAvgPoolForward(features.x, poolShape);
  const fcW = get('fc.weight');
  // The head, differentiated first: logits -> pooled -> features.
  const head = linearBackwardRef(pooled, fcW, dLogits, n, c, arch.numClasses);
  addGrad('fc.weight', head.dw);
  addGrad('fc.bias', head.db);
  addTo(features, adaptiveAvgPoolBackward(head.dx, poolShape));
  addTo(features, dFeatures);
  for (let i = tape.length - 1; i >= 0; i--) tape[i]();
  return grads;
}
