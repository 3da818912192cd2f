/**
 * groupNorm(x [N,C,H,W], weight [C], bias [C], groups, eps = 1e-5): PyTorch GroupNorm. Groups
 * are contiguous channel blocks; each (sample, group) block is normalized with its mean and
 * biased variance, then scaled and shifted per channel.
 * Backward: dx, dweight, dbias (each only where required); keeps x, weight and the per-block
 * (mean, rstd) written by the forward kernel.
 * The passes below also serve groupNormRelu (engine/ops/group_norm_act.ts), which runs the same
 * kernels compiled with a ReLU (and residual add) epilogue.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec, KernelVariant } from '../kernel.ts';
import { nchw, longReductionWorkgroupSize } from './launch.ts';
import { selectionPoint, choose, log2Bucket } from '../variant_choice.ts';
import { reductionWorkgroupSize } from './workgroup_reduce.ts';

/**
 * The epilogue a group-norm kernel is compiled with (kernels/norm/act_*.wgsl): none (groupNorm),
 * ReLU (groupNormRelu without a residual) or residual add then ReLU (groupNormRelu with one).
 * The forward kernels write activate(normalized value); channelSums reads the gradient through
 * the ReLU's mask and writes the masked gradient dz, which backwardInput then reads as its dy.
 */
export type NormEpilogue = 'none' | 'relu' | 'addRelu';
const EPILOGUE: Record<NormEpilogue, { snippet: string; prefix: string }> = {
  none: { snippet: 'norm/act_none.wgsl', prefix: 'groupNorm' },
  relu: { snippet: 'norm/act_relu.wgsl', prefix: 'groupNormRelu' },
  addRelu: { snippet: 'norm/act_add_relu.wgsl', prefix: 'groupNormAddRelu' },
};

/**
 * The group-norm kernels, declared once. Bodies: norm/group_norm.wgsl (any map) and
 * norm/group_norm_vec4.wgsl (H*W % 4 == 0), whose kernels access activations 4 elements at a
 * time: on lavapipe each per-invocation storage access costs about the same whatever its width
 * (their bindings are x4, y4, dy4, dx4). forwardPerSlab and channelSumsPerPlane reduce a run
 * with one invocation instead of one workgroup (see GROUP_NORM_PER_INVOCATION_MAX).
 * forward and channelSums exist per epilogue; backwardInput and backwardParams have none (the
 * ReLU's mask is applied by channelSums, which hands them dz), so every epilogue shares them.
 * The …Slab variants (norm/group_norm_slab.wgsl) are shaped for GPUs: a workgroup per (sample,
 * group) slab at every map size, coalesced vec4 loads whatever the alignment; today's rules do
 * not choose them (see forceGroupNormPath).
 */
type Body = 'norm/group_norm.wgsl' | 'norm/group_norm_vec4.wgsl' | 'norm/group_norm_slab.wgsl';
const variant = (name: string, file: Body, entry: string, epilogue: NormEpilogue): KernelVariant => ({
  name,
  file,
  entry,
  includes: [EPILOGUE[epilogue].snippet],
});
function epilogueVariants(epilogue: NormEpilogue) {
  const p = EPILOGUE[epilogue].prefix;
  return {
    forward: variant(`${p}Forward`, 'norm/group_norm.wgsl', 'forward', epilogue),
    forwardVec4: variant(`${p}ForwardVec4`, 'norm/group_norm_vec4.wgsl', 'forward', epilogue),
    forwardVec4PerSlab: variant(`${p}ForwardVec4PerSlab`, 'norm/group_norm_vec4.wgsl', 'forwardPerSlab', epilogue),
    channelSums: variant(`${p}ChannelSums`, 'norm/group_norm.wgsl', 'channelSums', epilogue),
    channelSumsVec4: variant(`${p}ChannelSumsVec4`, 'norm/group_norm_vec4.wgsl', 'channelSums', epilogue),
    channelSumsVec4PerPlane: variant(`${p}ChannelSumsVec4PerPlane`, 'norm/group_norm_vec4.wgsl', 'channelSumsPerPlane', epilogue),
    forwardSlab: variant(`${p}ForwardSlab`, 'norm/group_norm_slab.wgsl', 'forwardSlab', epilogue),
    channelSumsSlab: variant(`${p}ChannelSumsSlab`, 'norm/group_norm_slab.wgsl', 'channelSumsSlab', epilogue),
  };
}
export const GROUP_NORM_VARIANTS = {
  none: epilogueVariants('none'),
  relu: epilogueVariants('relu'),
  addRelu: epilogueVariants('addRelu'),
  shared: {
    backwardInput: variant('groupNormBackwardInput', 'norm/group_norm.wgsl', 'backwardInput', 'none'),
    backwardInputVec4: variant('groupNormBackwardInputVec4', 'norm/group_norm_vec4.wgsl', 'backwardInput', 'none'),
    backwardInputSlab: variant('groupNormBackwardInputSlab', 'norm/group_norm_slab.wgsl', 'backwardInputSlab', 'none'),
    backwardParams: variant('groupNormBackwardParams', 'norm/group_norm.wgsl', 'backwardParams', 'none'),
  },
} as const;

/**
 * The longest run (slab for forward, map for channelSums) that the vec4 kernels reduce with one
 * invocation rather than one workgroup: on CPU adapters a workgroup's reduction tree costs a
 * barrier per level, and each barrier switches every SIMD batch of the workgroup, so up to a
 * few thousand elements one invocation per run wins (the commit that set this has the
 * figures); at the stem's 16384 the two are about even, and a GPU would want the parallelism.
 */
export const GROUP_NORM_PER_INVOCATION_MAX = 4096;
/** Workgroup size of the one-invocation-per-run kernels (N*G slabs may be as few as 256). */
const PER_INVOCATION_WG = 32;

/**
 * Which group-norm kernels run: 'rules' (today's choice by map size: scalar, vec4 per
 * invocation, vec4 per workgroup) or 'slab' (the GPU-shaped …Slab variants for the forward,
 * channelSums and backwardInput passes at every shape). Tests and benchmarks force 'slab' with
 * forceGroupNormPath until a per-adapter choice (the variant-choice mechanism of issue 15) selects it.
 */
export type GroupNormPath = 'rules' | 'slab';
let forcedPath: GroupNormPath = 'rules';

/** Run fn with the group-norm kernels of `path` (restored after, also on a throw). */
export function forceGroupNormPath<T>(path: GroupNormPath, fn: () => T): T {
  const prev = forcedPath;
  forcedPath = path;
  try {
    return fn();
  } finally {
    forcedPath = prev;
  }
}

/**
 * The launch of a …Slab variant: a workgroup per slab, its size the smallest power of two that
 * covers the slab's vec4s, within [32, min(256, device limits)] (reductionWorkgroupSize); for
 * channelSumsSlab LANES invocations per channel plane, a power of two covering the plane's vec4s
 * (H*W / 4, plus one where a plane does not start on a vec4), at most WG.
 */
function slabSpec(v: KernelVariant, slabLen: number, hw: number): KernelSpec {
  const wg = reductionWorkgroupSize(Math.ceil(slabLen / 4));
  let lanes = 1;
  while (lanes < Math.ceil(hw / 4) + (hw % 4 ? 1 : 0) && lanes < wg) lanes *= 2;
  return { ...v, overrides: v.entry === 'channelSumsSlab' ? { WG: wg, LANES: lanes } : { WG: wg } };
}

/**
 * The launch of `variant` (one of GROUP_NORM_VARIANTS). `length`: the run one workgroup
 * reduces, in elements (its size is fitted to it; the per-invocation entries use PER_INVOCATION_WG).
 */
function groupNormSpec(v: KernelVariant, length: number): KernelSpec {
  const perInvocation = v.entry === 'forwardPerSlab' || v.entry === 'channelSumsPerPlane';
  const vec4 = v.file === 'norm/group_norm_vec4.wgsl';
  return { ...v, overrides: { WG: perInvocation ? PER_INVOCATION_WG : longReductionWorkgroupSize(vec4 ? length / 4 : length) } };
}

/**
 * FLOPs per element that the group-norm ops state with their dispatches (the conventions of
 * models/flops.ts, written out independently here: engine/ does not depend on models/):
 * normalization forward 8 (mean 1, variance 3, normalize 2, affine 2), backward 13; a fused
 * ReLU adds 1 forward and 1 backward (select), a fused residual add 1 forward, 0 backward.
 */
export function groupNormFlopsPerElement(epilogue: NormEpilogue): { forward: number; backward: number } {
  return { forward: 8 + (epilogue === 'none' ? 0 : 1) + (epilogue === 'addRelu' ? 1 : 0), backward: 13 + (epilogue === 'none' ? 0 : 1) };
}

/**
 * The forward pass of groupNorm(x) followed by `epilogue` (residual: the add's other operand,
 * x's shape, for 'addRelu'): y and the per-(sample, group) stats [N, G, 2] (mean, rstd).
 * Shapes are checked by the caller. The dispatch states the FLOPs of groupNormFlopsPerElement.
 */
export function groupNormForwardPass(
  epilogue: NormEpilogue,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  residual: Tensor | null,
  groups: number,
  eps: number,
): { y: Tensor; stats: Tensor } {
  const [n, c, h, w] = x.shape;
  const slabLen = (c / groups) * h * w;
  const uniforms = groupNormUniforms(x, groups, eps);
  const y = Tensor.empty(x.shape);
  const stats = Tensor.empty([n, groups, 2]);
  const extra: Record<string, Tensor> = residual ? { residual } : {};
  const flops = groupNormFlopsPerElement(epilogue).forward * x.size;
  const launch: NormForwardLaunch = { epilogue, x, weight, bias, extra, y, stats, uniforms, slabs: n * groups, slabLen, hw: h * w, flops };
  choose(GROUP_NORM_CHOICES.forward, normGeometry(epilogue, x, groups)).launch(launch);
  return { y, stats };
}

function groupNormUniforms(x: Tensor, groups: number, eps: number) {
  const [n, c, h, w] = x.shape;
  return { slabs: n * groups, groups, channels: c, per_group: c / groups, hw: h * w, batch: n, eps };
}

/**
 * The backward pass of groupNorm(x) followed by `epilogue`, from upstream gradient dy: dx, dweight
 * and dbias (each null unless asked for), and for the ReLU epilogues dz, the gradient that
 * reaches the normalization's output (dy masked by y > 0; for 'addRelu' also the residual's
 * gradient). `yAct`: the forward's output (the ReLU epilogues' mask). Saved tensors: x, weight, stats.
 */
export function groupNormBackwardPass(
  epilogue: NormEpilogue,
  dy: Tensor,
  x: Tensor,
  weight: Tensor,
  stats: Tensor,
  yAct: Tensor | null,
  groups: number,
  eps: number,
  want: { dx: boolean; params: boolean },
): { dx: Tensor | null; dweight: Tensor | null; dbias: Tensor | null; dz: Tensor | null } {
  const [n, c, h, w] = x.shape;
  const slabLen = (c / groups) * h * w;
  const uniforms = groupNormUniforms(x, groups, eps);
  const flops = groupNormFlopsPerElement(epilogue).backward * x.size;
  // Per (sample, channel): sum of dz and of dz * xhat, all that dx's means and dweight, dbias
  // need; with a ReLU epilogue the same pass writes dz = dy masked by y > 0.
  const sums = Tensor.empty([n, c, 2]);
  const dz = epilogue === 'none' ? null : Tensor.empty(x.shape);
  const act: Record<string, Tensor> = dz ? { y_act: yAct!, dz } : {};
  const planes: NormPlanesLaunch = {
    epilogue,
    x,
    dy,
    stats,
    sums,
    act,
    uniforms,
    planes: n * c,
    hw: h * w,
    slabs: n * groups,
    slabLen,
    flops,
  };
  choose(GROUP_NORM_CHOICES.channelSums, normGeometry(epilogue, x, groups)).launch(planes);
  const upstream = dz ?? dy;
  let dx: Tensor | null = null;
  if (want.dx) {
    dx = Tensor.empty(x.shape);
    const launch: NormBackwardInputLaunch = { x, dy: upstream, dx, weight, stats, sums, uniforms, slabs: n * groups, slabLen, hw: h * w };
    choose(GROUP_NORM_CHOICES.backwardInput, normGeometry(epilogue, x, groups)).launch(launch);
  }
  let dweight: Tensor | null = null;
  let dbias: Tensor | null = null;
  if (want.params) {
    dweight = Tensor.empty([c]);
    dbias = Tensor.empty([c]);
    dispatch(groupNormSpec(GROUP_NORM_VARIANTS.shared.backwardParams, n), { sums, dweight, dbias }, uniforms, c);
  }
  sums.dispose();
  return { dx, dweight, dbias, dz };
}

/** Shape checks shared by the group-norm ops; errors name `op`. */
export function checkGroupNormArgs(op: string, x: Tensor, weight: Tensor, bias: Tensor, groups: number, eps: number) {
  const [, c] = nchw(op, x);
  const shapes = `x ${shapeStr(x.shape)}, weight ${shapeStr(weight.shape)}, bias ${shapeStr(bias.shape)}, groups ${groups}`;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new ShapeError(op, `groups must be a whole number >= 1 that divides the channel count (${shapes})`);
  }
  for (const [what, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t.rank !== 1 || t.shape[0] !== c || t.dtype !== 'f32') throw new ShapeError(op, `${what} must be f32 [C] = [${c}] (${shapes})`);
  }
  if (!(eps > 0)) throw new ShapeError(op, `eps ${eps} must be > 0 (${shapes})`);
}

function groupNormImpl(x: Tensor, weight: Tensor, bias: Tensor, groups: number, eps = 1e-5): Tensor {
  checkGroupNormArgs('groupNorm', x, weight, bias, groups, eps);
  const { y, stats } = groupNormForwardPass('none', x, weight, bias, null, groups, eps);
  if (!needsGrad(x, weight, bias)) {
    stats.dispose();
    return y;
  }
  const saved = [save(x), save(weight), save(stats)];
  stats.dispose();
  const [xSaved, weightSaved, statsSaved] = saved;
  record(
    'groupNorm',
    y,
    [x, weight, bias],
    (dy) => {
      const g = groupNormBackwardPass('none', dy, xSaved, weightSaved, statsSaved, null, groups, eps, {
        dx: x.requiresGrad,
        params: weight.requiresGrad || bias.requiresGrad,
      });
      if (!weight.requiresGrad) g.dweight?.dispose();
      if (!bias.requiresGrad) g.dbias?.dispose();
      return [g.dx, weight.requiresGrad ? g.dweight : null, bias.requiresGrad ? g.dbias : null];
    },
    saved,
  );
  return y;
}
export const groupNorm = namedOp('groupNorm', groupNormImpl);

/**
 * The selection points of the group-norm passes (engine/variant_choice.ts), each launching the
 * kernels of GROUP_NORM_VARIANTS for the call's epilogue:
 * - 'groupNorm.forward': 'scalar' (norm/group_norm.wgsl, any map), 'vec4' (a workgroup per
 *   slab, H*W % 4 == 0), 'vec4PerSlab' (an invocation per slab, H*W % 4 == 0). Today's rule:
 *   scalar unless vec4 fits, then per slab up to GROUP_NORM_PER_INVOCATION_MAX elements.
 * - 'groupNorm.channelSums' (the first backward pass): 'scalar', 'vec4', 'vec4PerPlane', the same way per plane.
 * - 'groupNorm.backwardInput': 'scalar', 'vec4' (rule: vec4 where it fits).
 * A new variant is one more entry in its pass's list. Geometry class: whether H*W % 4 == 0 and
 * log2 buckets of the run one kernel reduces (slab or plane) and of the number of runs.
 */
export interface NormGeometry {
  epilogue: NormEpilogue;
  n: number;
  c: number;
  h: number;
  w: number;
  groups: number;
  hw: number;
  /** Elements of one (sample, group) slab: C/G * H*W. */
  slabLen: number;
  /** (sample, group) slabs: N*G. */
  slabs: number;
  /** (sample, channel) planes: N*C. */
  planes: number;
}

/** The geometry of a group-norm call on x [N,C,H,W]. */
export function normGeometry(epilogue: NormEpilogue, x: Tensor, groups: number): NormGeometry {
  const [n, c, h, w] = x.shape;
  return { epilogue, n, c, h, w, groups, hw: h * w, slabLen: (c / groups) * h * w, slabs: n * groups, planes: n * c };
}
export interface NormForwardLaunch {
  epilogue: NormEpilogue;
  x: Tensor;
  weight: Tensor;
  bias: Tensor;
  /** { residual } for 'addRelu', else empty. */
  extra: Record<string, Tensor>;
  y: Tensor;
  stats: Tensor;
  uniforms: ReturnType<typeof groupNormUniforms>;
  slabs: number;
  slabLen: number;
  hw: number;
  flops: number;
}
export interface NormPlanesLaunch {
  epilogue: NormEpilogue;
  x: Tensor;
  dy: Tensor;
  stats: Tensor;
  sums: Tensor;
  /** { y_act, dz } for the ReLU epilogues, else empty. */
  act: Record<string, Tensor>;
  uniforms: ReturnType<typeof groupNormUniforms>;
  planes: number;
  hw: number;
  slabs: number;
  slabLen: number;
  flops: number;
}
export interface NormBackwardInputLaunch {
  x: Tensor;
  dy: Tensor;
  dx: Tensor;
  weight: Tensor;
  stats: Tensor;
  sums: Tensor;
  uniforms: ReturnType<typeof groupNormUniforms>;
  slabs: number;
  slabLen: number;
  hw: number;
}

/** Every row of H*W elements starts on a vec4 when H*W % 4 == 0. */
const vec4Fits = (g: { hw: number }) => g.hw % 4 === 0;
/**
 * The …Slab kernels bind x as array<vec4<f32>>, which WebGPU will not bind to fewer than 16
 * bytes: a tensor of 1-3 elements runs the other kernels.
 */
const slabFits = (g: NormGeometry) => g.n * g.c * g.h * g.w >= 4;
/** The rules pick the slab kernels only inside forceGroupNormPath('slab') (where they fit). */
const slabRuled = (g: NormGeometry) => forcedPath === 'slab' && slabFits(g);

export const GROUP_NORM_CHOICES = {
  forward: selectionPoint<NormGeometry, (k: NormForwardLaunch) => void>({
    op: 'groupNorm.forward',
    candidates: [
      {
        name: 'scalar',
        launch: (k) =>
          dispatch(
            groupNormSpec(GROUP_NORM_VARIANTS[k.epilogue].forward, k.slabLen),
            { x: k.x, weight: k.weight, bias: k.bias, y: k.y, stats_out: k.stats, ...k.extra },
            k.uniforms,
            k.slabs,
            k.flops,
          ),
      },
      {
        name: 'vec4',
        fits: vec4Fits,
        launch: (k) =>
          dispatch(
            groupNormSpec(GROUP_NORM_VARIANTS[k.epilogue].forwardVec4, k.slabLen),
            { x4: k.x, weight: k.weight, bias: k.bias, y4: k.y, stats_out: k.stats, ...k.extra },
            k.uniforms,
            k.slabs,
            k.flops,
          ),
      },
      {
        name: 'vec4PerSlab',
        fits: vec4Fits,
        params: { wg: PER_INVOCATION_WG },
        launch: (k) =>
          dispatch(
            groupNormSpec(GROUP_NORM_VARIANTS[k.epilogue].forwardVec4PerSlab, k.slabLen),
            { x4: k.x, weight: k.weight, bias: k.bias, y4: k.y, stats_out: k.stats, ...k.extra },
            k.uniforms,
            Math.ceil(k.slabs / PER_INVOCATION_WG),
            k.flops,
          ),
      },
      {
        name: 'slab',
        fits: slabFits,
        params: { wg: 'fit to the slab' },
        launch: (k) =>
          dispatch(
            slabSpec(GROUP_NORM_VARIANTS[k.epilogue].forwardSlab, k.slabLen, k.hw),
            { x: k.x, x4: k.x, weight: k.weight, bias: k.bias, y: k.y, stats_out: k.stats, ...k.extra },
            k.uniforms,
            k.slabs,
            k.flops,
          ),
      },
    ],
    classOf: (g) => `v4${vec4Fits(g) ? 1 : 0} slab${log2Bucket(g.slabLen)} slabs${log2Bucket(g.slabs)}`,
    rule: (g) => (slabRuled(g) ? 'slab' : !vec4Fits(g) ? 'scalar' : g.slabLen <= GROUP_NORM_PER_INVOCATION_MAX ? 'vec4PerSlab' : 'vec4'),
  }),
  channelSums: selectionPoint<NormGeometry, (k: NormPlanesLaunch) => void>({
    op: 'groupNorm.channelSums',
    candidates: [
      {
        name: 'scalar',
        launch: (k) =>
          dispatch(
            groupNormSpec(GROUP_NORM_VARIANTS[k.epilogue].channelSums, k.hw),
            { x: k.x, stats: k.stats, dy: k.dy, sums_out: k.sums, ...k.act },
            k.uniforms,
            k.planes,
            k.flops,
          ),
      },
      {
        name: 'vec4',
        fits: vec4Fits,
        launch: (k) =>
          dispatch(
            groupNormSpec(GROUP_NORM_VARIANTS[k.epilogue].channelSumsVec4, k.hw),
            { x4: k.x, stats: k.stats, dy4: k.dy, sums_out: k.sums, ...k.act },
            k.uniforms,
            k.planes,
            k.flops,
          ),
      },
      {
        name: 'vec4PerPlane',
        fits: vec4Fits,
        params: { wg: PER_INVOCATION_WG },
        launch: (k) =>
          dispatch(
            groupNormSpec(GROUP_NORM_VARIANTS[k.epilogue].channelSumsVec4PerPlane, k.hw),
            { x4: k.x, stats: k.stats, dy4: k.dy, sums_out: k.sums, ...k.act },
            k.uniforms,
            Math.ceil(k.planes / PER_INVOCATION_WG),
            k.flops,
          ),
      },
      {
        name: 'slab',
        fits: slabFits,
        params: { wg: 'fit to the slab' },
        launch: (k) =>
          dispatch(
            slabSpec(GROUP_NORM_VARIANTS[k.epilogue].channelSumsSlab, k.slabLen, k.hw),
            { x: k.x, x4: k.x, stats: k.stats, dy: k.dy, dy4: k.dy, sums_out: k.sums, ...k.act },
            k.uniforms,
            k.slabs,
            k.flops,
          ),
      },
    ],
    classOf: (g) => `v4${vec4Fits(g) ? 1 : 0} plane${log2Bucket(g.hw)} planes${log2Bucket(g.planes)}`,
    rule: (g) => (slabRuled(g) ? 'slab' : !vec4Fits(g) ? 'scalar' : g.hw <= GROUP_NORM_PER_INVOCATION_MAX ? 'vec4PerPlane' : 'vec4'),
  }),
  backwardInput: selectionPoint<NormGeometry, (k: NormBackwardInputLaunch) => void>({
    op: 'groupNorm.backwardInput',
    candidates: [
      {
        name: 'scalar',
        launch: (k) =>
          dispatch(
            groupNormSpec(GROUP_NORM_VARIANTS.shared.backwardInput, k.slabLen),
            { weight: k.weight, stats: k.stats, sums: k.sums, x: k.x, dy: k.dy, dx: k.dx },
            k.uniforms,
            k.slabs,
          ),
      },
      {
        name: 'vec4',
        fits: vec4Fits,
        launch: (k) =>
          dispatch(
            groupNormSpec(GROUP_NORM_VARIANTS.shared.backwardInputVec4, k.slabLen),
            { weight: k.weight, stats: k.stats, sums: k.sums, x4: k.x, dy4: k.dy, dx4: k.dx },
            k.uniforms,
            k.slabs,
          ),
      },
      {
        name: 'slab',
        fits: slabFits,
        params: { wg: 'fit to the slab' },
        launch: (k) =>
          dispatch(
            slabSpec(GROUP_NORM_VARIANTS.shared.backwardInputSlab, k.slabLen, k.hw),
            { weight: k.weight, stats: k.stats, sums: k.sums, x: k.x, x4: k.x, dy: k.dy, dy4: k.dy, dx: k.dx },
            k.uniforms,
            k.slabs,
          ),
      },
    ],
    classOf: (g) => `v4${vec4Fits(g) ? 1 : 0} slab${log2Bucket(g.slabLen)} slabs${log2Bucket(g.slabs)}`,
    rule: (g) => (slabRuled(g) ? 'slab' : vec4Fits(g) ? 'vec4' : 'scalar'),
  }),
};
