/**
 * groupNorm(x [N,C,H,W], weight [C], bias [C], groups, eps = 1e-5): PyTorch GroupNorm. Groups
 * are contiguous channel blocks; each (sample, group) block is normalized with its mean and
 * biased variance, then scaled and shifted per channel.
 * Backward: dx, dweight, dbias (each only where required); keeps x, weight and the per-block
 * (mean, rstd) written by the forward kernel.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { nchw, longReductionWorkgroupSize } from './launch.ts';

type Entry = 'forward' | 'channelSums' | 'backwardInput' | 'backwardParams';
const KERNEL_NAMES: Record<Entry, string> = {
  forward: 'groupNormForward', channelSums: 'groupNormChannelSums', backwardInput: 'groupNormBackwardInput', backwardParams: 'groupNormBackwardParams',
};

/** `length`: how many elements one workgroup reduces (its size is fitted to it). */
function spec(entry: Entry, length: number): KernelSpec {
  return { name: KERNEL_NAMES[entry], file: 'norm/group_norm.wgsl', entry, overrides: { WG: longReductionWorkgroupSize(length) } };
}

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
 * The kernels of norm/group_norm_vec4.wgsl (needs H*W % 4 == 0), which access activations 4
 * elements at a time: on lavapipe each per-invocation storage access costs about the same
 * whatever its width. Their bindings are x4, y4, dy4, dx4.
 * `length`: the run one workgroup (or, with `perInvocation`, one invocation) reduces, in elements.
 */
function vec4Spec(entry: Entry | 'forwardPerSlab' | 'channelSumsPerPlane', length: number): KernelSpec {
  const base = entry === 'forwardPerSlab' ? 'forward' : entry === 'channelSumsPerPlane' ? 'channelSums' : entry;
  const perInvocation = base !== entry;
  return { name: KERNEL_NAMES[base], file: 'norm/group_norm_vec4.wgsl', entry, overrides: { WG: perInvocation ? PER_INVOCATION_WG : longReductionWorkgroupSize(length / 4) } };
}

function checkArgs(x: Tensor, weight: Tensor, bias: Tensor, groups: number, eps: number) {
  const [, c] = nchw('groupNorm', x);
  const shapes = `x ${shapeStr(x.shape)}, weight ${shapeStr(weight.shape)}, bias ${shapeStr(bias.shape)}, groups ${groups}`;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new ShapeError('groupNorm', `groups must be a whole number >= 1 that divides the channel count (${shapes})`);
  }
  for (const [what, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t.rank !== 1 || t.shape[0] !== c || t.dtype !== 'f32') throw new ShapeError('groupNorm', `${what} must be f32 [C] = [${c}] (${shapes})`);
  }
  if (!(eps > 0)) throw new ShapeError('groupNorm', `eps ${eps} must be > 0 (${shapes})`);
}

function groupNormImpl(x: Tensor, weight: Tensor, bias: Tensor, groups: number, eps = 1e-5): Tensor {
  checkArgs(x, weight, bias, groups, eps);
  const [n, c, h, w] = x.shape;
  const slabLen = (c / groups) * h * w;
  const uniforms = { slabs: n * groups, groups, channels: c, per_group: c / groups, hw: h * w, batch: n, eps };
  // Every row of H*W elements starts on a vec4 when H*W % 4 == 0.
  const vec4 = (h * w) % 4 === 0;
  const y = Tensor.empty(x.shape);
  const stats = Tensor.empty([n, groups, 2]);
  if (!vec4) {
    dispatch(spec('forward', slabLen), { x, weight, bias, y, stats_out: stats }, uniforms, n * groups);
  } else if (slabLen <= GROUP_NORM_PER_INVOCATION_MAX) {
    dispatch(vec4Spec('forwardPerSlab', slabLen), { x4: x, weight, bias, y4: y, stats_out: stats }, uniforms, Math.ceil((n * groups) / PER_INVOCATION_WG));
  } else {
    dispatch(vec4Spec('forward', slabLen), { x4: x, weight, bias, y4: y, stats_out: stats }, uniforms, n * groups);
  }
  if (!needsGrad(x, weight, bias)) {
    stats.dispose();
    return y;
  }
  const saved = [save(x), save(weight), save(stats)];
  stats.dispose();
  const [xSaved, weightSaved, statsSaved] = saved;
  record('groupNorm', y, [x, weight, bias], (dy) => {
    // Per (sample, channel): sum of dy and of dy * xhat, all that dx's means and dweight, dbias need.
    const sums = Tensor.empty([n, c, 2]);
    if (!vec4) {
      dispatch(spec('channelSums', h * w), { x: xSaved, stats: statsSaved, dy, sums_out: sums }, uniforms, n * c);
    } else if (h * w <= GROUP_NORM_PER_INVOCATION_MAX) {
      dispatch(vec4Spec('channelSumsPerPlane', h * w), { x4: xSaved, stats: statsSaved, dy4: dy, sums_out: sums }, uniforms, Math.ceil((n * c) / PER_INVOCATION_WG));
    } else {
      dispatch(vec4Spec('channelSums', h * w), { x4: xSaved, stats: statsSaved, dy4: dy, sums_out: sums }, uniforms, n * c);
    }
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(x.shape);
      const common = { weight: weightSaved, stats: statsSaved, sums };
      if (vec4) dispatch(vec4Spec('backwardInput', slabLen), { ...common, x4: xSaved, dy4: dy, dx4: dx }, uniforms, n * groups);
      else dispatch(spec('backwardInput', slabLen), { ...common, x: xSaved, dy, dx }, uniforms, n * groups);
    }
    let dweight: Tensor | null = null;
    let dbias: Tensor | null = null;
    if (weight.requiresGrad || bias.requiresGrad) {
      dweight = Tensor.empty([c]);
      dbias = Tensor.empty([c]);
      dispatch(spec('backwardParams', n), { sums, dweight, dbias }, uniforms, c);
    }
    sums.dispose();
    return [dx, weight.requiresGrad ? dweight : null, bias.requiresGrad ? dbias : null];
  }, saved);
  return y;
}
export const groupNorm = namedOp('groupNorm', groupNormImpl);
