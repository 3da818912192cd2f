// Reference BatchNorm2d, float64 (PyTorch semantics).
// x, dy, dx: N,C,H,W.  weight, bias, runningMean, runningVar: C.  Statistics per channel over
// M = N*H*W elements. Training: normalize with the biased batch variance; running stats become
// (1 - momentum) * running + momentum * batch, with the unbiased variance (times M / (M - 1)).
// Eval: normalize with the running statistics.

export interface BatchNormShape {
  n: number;
  c: number;
  h: number;
  w: number;
  eps: number;
  momentum: number;
  training: boolean;
}

function channelValues(x: Float64Array, s: BatchNormShape, c: number): number[] {
  const out: number[] = [];
  const hw = s.h * s.w;
  for (let n = 0; n < s.n; n++) for (let i = 0; i < hw; i++) out.push(x[(n * s.c + c) * hw + i]);
  return out;
}

/** Per channel: the mean and variance used to normalize (batch or running). */
function normStats(x: Float64Array, s: BatchNormShape, runningMean: Float64Array, runningVar: Float64Array, c: number) {
  if (!s.training) return { mean: runningMean[c], variance: runningVar[c] };
  const v = channelValues(x, s, c);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return { mean, variance };
}

/** Returns y and the running statistics after the call (unchanged in eval). */
export function batchNormForward(
  x: Float64Array,
  weight: Float64Array,
  bias: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  s: BatchNormShape,
) {
  const y = new Float64Array(x.length);
  const newMean = Float64Array.from(runningMean);
  const newVar = Float64Array.from(runningVar);
  const hw = s.h * s.w;
  const m = s.n * hw;
  for (let c = 0; c < s.c; c++) {
    const { mean, variance } = normStats(x, s, runningMean, runningVar, c);
    for (let n = 0; n < s.n; n++) {
      for (let i = 0; i < hw; i++) {
        const at = (n * s.c + c) * hw + i;
        y[at] = ((x[at] - mean) / Math.sqrt(variance + s.eps)) * weight[c] + bias[c];
      }
    }
    if (s.training) {
      newMean[c] = (1 - s.momentum) * runningMean[c] + s.momentum * mean;
      newVar[c] = (1 - s.momentum) * runningVar[c] + s.momentum * variance * (m / (m - 1));
    }
  }
  return { y, runningMean: newMean, runningVar: newVar };
}

/**
 * Analytic gradients, xhat = (x - mean) * rstd: dweight = sum dy * xhat, dbias = sum dy; training:
 * dx = weight * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)); eval: dx = weight * rstd * dy.
 */
export function batchNormBackward(
  x: Float64Array,
  weight: Float64Array,
  runningMean: Float64Array,
  runningVar: Float64Array,
  dy: Float64Array,
  s: BatchNormShape,
) {
  const dx = new Float64Array(x.length);
  const dweight = new Float64Array(s.c);
  const dbias = new Float64Array(s.c);
  const hw = s.h * s.w;
  const m = s.n * hw;
  for (let c = 0; c < s.c; c++) {
    const { mean, variance } = normStats(x, s, runningMean, runningVar, c);
    const rstd = 1 / Math.sqrt(variance + s.eps);
    const at = (n: number, i: number) => (n * s.c + c) * hw + i;
    for (let n = 0; n < s.n; n++) {
      for (let i = 0; i < hw; i++) {
        dbias[c] += dy[at(n, i)];
        dweight[c] += dy[at(n, i)] * (x[at(n, i)] - mean) * rstd;
      }
    }
    for (let n = 0; n < s.n; n++) {
      for (let i = 0; i < hw; i++) {
        const xhat = (x[at(n, i)] - mean) * rstd;
        const centered = s.training ? dy[at(n, i)] - dbias[c] / m - (xhat * dweight[c]) / m : dy[at(n, i)];
        dx[at(n, i)] = weight[c] * rstd * centered;
      }
    }
  }
  return { dx, dweight, dbias };
}
