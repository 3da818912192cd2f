/**
 * batchNorm(x [N,C,H,W], weight [C], bias [C], runningMean [C], runningVar [C], opts):
 * PyTorch BatchNorm2d.
 * - training: normalize with the batch mean and biased batch variance over (N, H, W); update the
 *   running statistics in place, `running = (1 - momentum) * running + momentum * batch`, using
 *   the unbiased variance (M / (M - 1), M = N*H*W) for runningVar. Happens with or without grad.
 * - eval: normalize with the running statistics (left unchanged).
 * Backward: dx, dweight, dbias (each only where required). In training the batch statistics
 * depend on x and their gradient is included; in eval they are constants.
 */
import { Tensor, shapeStr } from '../tensor.ts';
import { dispatch, groupsFor, elementwiseWorkgroupSize, namedOp } from '../runtime.ts';
import { needsGrad, record, save } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { nchw, longReductionWorkgroupSize } from './launch.ts';

export interface BatchNormOptions {
  training: boolean;
  /** Weight of the new batch statistic in the running average; default 0.1. */
  momentum?: number;
  /** Added to the variance inside the square root; default 1e-5. */
  eps?: number;
}

/** statsTraining and backward reduce `perChannel` elements per workgroup; the others are one invocation per item. */
function spec(entry: 'statsTraining' | 'statsEval' | 'normalize' | 'backward', perChannel: number): KernelSpec {
  const name = {
    statsTraining: 'batchNormStatsTraining',
    statsEval: 'batchNormStatsEval',
    normalize: 'batchNormNormalize',
    backward: 'batchNormBackward',
  }[entry];
  const reduces = entry === 'statsTraining' || entry === 'backward';
  return {
    name,
    file: 'norm/batch_norm.wgsl',
    entry,
    overrides: { WG: reduces ? longReductionWorkgroupSize(perChannel) : elementwiseWorkgroupSize() },
  };
}

function checkArgs(x: Tensor, params: Record<string, Tensor>, opts: BatchNormOptions, momentum: number, eps: number) {
  const [n, c, h, w] = nchw('batchNorm', x);
  const shapes = [`x ${shapeStr(x.shape)}`, ...Object.entries(params).map(([k, t]) => `${k} ${shapeStr(t.shape)}`)].join(', ');
  for (const [what, t] of Object.entries(params)) {
    if (t.rank !== 1 || t.shape[0] !== c || t.dtype !== 'f32')
      throw new ShapeError('batchNorm', `${what} must be f32 [C] = [${c}] (${shapes})`);
  }
  if (params.runningMean.requiresGrad || params.runningVar.requiresGrad) {
    throw new ShapeError(
      'batchNorm',
      `runningMean and runningVar are statistics updated in place, not parameters: they must not require grad (${shapes})`,
    );
  }
  if (opts.training && n * h * w < 2) {
    throw new ShapeError(
      'batchNorm',
      `training needs more than 1 value per channel to estimate a variance, got N*H*W = ${n * h * w} (${shapes}); use a larger batch or eval mode`,
    );
  }
  if (!(momentum >= 0 && momentum <= 1)) throw new ShapeError('batchNorm', `momentum ${momentum} must be in [0, 1] (${shapes})`);
  if (!(eps > 0)) throw new ShapeError('batchNorm', `eps ${eps} must be > 0 (${shapes})`);
}

function batchNormImpl(x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, opts: BatchNormOptions): Tensor {
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  checkArgs(x, { weight, bias, runningMean, runningVar }, opts, momentum, eps);
  const [n, c, h, w] = x.shape;
  const m = n * h * w;
  const wg = elementwiseWorkgroupSize();
  const uniforms = { batch: n, channels: c, hw: h * w, eps, momentum, batch_stats: opts.training ? 1 : 0 };
  const stats = Tensor.empty([c, 2]);
  if (opts.training) {
    dispatch(spec('statsTraining', m), { x, running_mean: runningMean, running_var: runningVar, stats_out: stats }, uniforms, c);
  } else {
    dispatch(spec('statsEval', m), { running_mean: runningMean, running_var: runningVar, stats_out: stats }, uniforms, groupsFor(c, wg));
  }
  const y = Tensor.empty(x.shape);
  dispatch(spec('normalize', m), { x, stats, weight, bias, y }, uniforms, groupsFor(x.size, wg));
  if (!needsGrad(x, weight, bias)) {
    stats.dispose();
    return y;
  }
  const saved = [save(x), save(weight), save(stats)];
  stats.dispose();
  const [xSaved, weightSaved, statsSaved] = saved;
  record(
    'batchNorm',
    y,
    [x, weight, bias],
    (dy) => {
      // The kernel produces all three gradients in one pass over the channel; unneeded ones are
      // freed by the backward scope.
      const dx = Tensor.empty(x.shape);
      const dweight = Tensor.empty([c]);
      const dbias = Tensor.empty([c]);
      dispatch(spec('backward', m), { x: xSaved, weight: weightSaved, stats: statsSaved, dy, dx, dweight, dbias }, uniforms, c);
      return [x.requiresGrad ? dx : null, weight.requiresGrad ? dweight : null, bias.requiresGrad ? dbias : null];
    },
    saved,
  );
  return y;
}
export const batchNorm = namedOp('batchNorm', batchNormImpl);
