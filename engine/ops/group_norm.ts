/**
 * groupNorm(x [N,C,H,W], weight [C], bias [C], groups, eps = 1e-5): PyTorch GroupNorm. Groups
 * are contiguous channel blocks; each (sample, group) block is normalized with its mean and
 * biased variance, then scaled and shifted per channel.
 * Backward: dx, dweight, dbias (each only where required); keeps x, weight and the per-block
 * (mean, rstd) written by the forward kernel.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { nchw, longReductionWorkgroupSize } from './launch.ts';

/** `length`: how many elements one workgroup reduces (its size is fitted to it). */
function spec(entry: 'forward' | 'channelSums' | 'backwardInput' | 'backwardParams', length: number): KernelSpec {
  const name = {
    forward: 'groupNormForward', channelSums: 'groupNormChannelSums', backwardInput: 'groupNormBackwardInput', backwardParams: 'groupNormBackwardParams',
  }[entry];
  return { name, file: 'group_norm.wgsl', entry, overrides: { WG: longReductionWorkgroupSize(length) } };
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

export function groupNorm(x: Tensor, weight: Tensor, bias: Tensor, groups: number, eps = 1e-5): Tensor {
  checkArgs(x, weight, bias, groups, eps);
  const [n, c, h, w] = x.shape;
  const slabLen = (c / groups) * h * w;
  const uniforms = { slabs: n * groups, groups, channels: c, per_group: c / groups, hw: h * w, batch: n, eps };
  const y = Tensor.empty(x.shape);
  const stats = Tensor.empty([n, groups, 2]);
  dispatch(spec('forward', slabLen), { x, weight, bias, y, stats_out: stats }, uniforms, n * groups);
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
    dispatch(spec('channelSums', h * w), { x: xSaved, stats: statsSaved, dy, sums_out: sums }, uniforms, n * c);
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(x.shape);
      dispatch(spec('backwardInput', slabLen), { x: xSaved, weight: weightSaved, stats: statsSaved, sums, dy, dx }, uniforms, n * groups);
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
