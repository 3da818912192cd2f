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
 * Whether x's group norm runs the …Slab variants: when forced, and x holds at least one vec4 (the
 * kernels bind x as array<vec4<f32>>, which WebGPU will not bind to fewer than 16 bytes; a
 * tensor of 1-3 elements runs today's kernels).
 */
function slabPathFor(x: Tensor): boolean {
  return forcedPath === 'slab' && x.size >= 4;
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
  // Every row of H*W elements starts on a vec4 when H*W % 4 == 0.
  const vec4 = (h * w) % 4 === 0;
  const y = Tensor.empty(x.shape);
  const stats = Tensor.empty([n, groups, 2]);
  const extra: Record<string, Tensor> = residual ? { residual } : {};
  const flops = groupNormFlopsPerElement(epilogue).forward * x.size;
  if (slabPathFor(x)) {
    dispatch(
      slabSpec(GROUP_NORM_VARIANTS[epilogue].forwardSlab, slabLen, h * w),
      { x, x4: x, weight, bias, y, stats_out: stats, ...extra },
      uniforms,
      n * groups,
      flops,
    );
  } else if (!vec4) {
    dispatch(
      groupNormSpec(GROUP_NORM_VARIANTS[epilogue].forward, slabLen),
      { x, weight, bias, y, stats_out: stats, ...extra },
      uniforms,
      n * groups,
      flops,
    );
  } else if (slabLen <= GROUP_NORM_PER_INVOCATION_MAX) {
    dispatch(
      groupNormSpec(GROUP_NORM_VARIANTS[epilogue].forwardVec4PerSlab, slabLen),
      { x4: x, weight, bias, y4: y, stats_out: stats, ...extra },
      uniforms,
      Math.ceil((n * groups) / PER_INVOCATION_WG),
      flops,
    );
  } else {
    dispatch(
      groupNormSpec(GROUP_NORM_VARIANTS[epilogue].forwardVec4, slabLen),
      { x4: x, weight, bias, y4: y, stats_out: stats, ...extra },
      uniforms,
      n * groups,
      flops,
    );
  }
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
  const vec4 = (h * w) % 4 === 0;
  const flops = groupNormFlopsPerElement(epilogue).backward * x.size;
  // Per (sample, channel): sum of dz and of dz * xhat, all that dx's means and dweight, dbias
  // need; with a ReLU epilogue the same pass writes dz = dy masked by y > 0.
  const sums = Tensor.empty([n, c, 2]);
  const dz = epilogue === 'none' ? null : Tensor.empty(x.shape);
  const act: Record<string, Tensor> = dz ? { y_act: yAct!, dz } : {};
  const slabPath = slabPathFor(x);
  if (slabPath) {
    dispatch(
      slabSpec(GROUP_NORM_VARIANTS[epilogue].channelSumsSlab, slabLen, h * w),
      { x, x4: x, stats, dy, dy4: dy, sums_out: sums, ...act },
      uniforms,
      n * groups,
      flops,
    );
  } else if (!vec4) {
    dispatch(
      groupNormSpec(GROUP_NORM_VARIANTS[epilogue].channelSums, h * w),
      { x, stats, dy, sums_out: sums, ...act },
      uniforms,
      n * c,
      flops,
    );
  } else if (h * w <= GROUP_NORM_PER_INVOCATION_MAX) {
    dispatch(
      groupNormSpec(GROUP_NORM_VARIANTS[epilogue].channelSumsVec4PerPlane, h * w),
      { x4: x, stats, dy4: dy, sums_out: sums, ...act },
      uniforms,
      Math.ceil((n * c) / PER_INVOCATION_WG),
      flops,
    );
  } else {
    dispatch(
      groupNormSpec(GROUP_NORM_VARIANTS[epilogue].channelSumsVec4, h * w),
      { x4: x, stats, dy4: dy, sums_out: sums, ...act },
      uniforms,
      n * c,
      flops,
    );
  }
  const upstream = dz ?? dy;
  let dx: Tensor | null = null;
  if (want.dx) {
    dx = Tensor.empty(x.shape);
    const common = { weight, stats, sums };
    if (slabPath)
      dispatch(
        slabSpec(GROUP_NORM_VARIANTS.shared.backwardInputSlab, slabLen, h * w),
        { ...common, x, x4: x, dy: upstream, dy4: upstream, dx },
        uniforms,
        n * groups,
      );
    else if (vec4)
      dispatch(
        groupNormSpec(GROUP_NORM_VARIANTS.shared.backwardInputVec4, slabLen),
        { ...common, x4: x, dy4: upstream, dx4: dx },
        uniforms,
        n * groups,
      );
    else
      dispatch(groupNormSpec(GROUP_NORM_VARIANTS.shared.backwardInput, slabLen), { ...common, x, dy: upstream, dx }, uniforms, n * groups);
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
