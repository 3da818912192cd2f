// Float64 reference for the distillation KL term. s (student), t (teacher): N,C row-major.
// PyTorch: F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction='batchmean') * T * T,
// where kl_div(input, target) sums target * (log target - input), a zero target contributing 0,
// and batchmean divides that sum by N.
import { softmaxRef, logSoftmaxRef } from './softmax.ts';

export function klDivDistillRef(s: Float64Array, t: Float64Array, shape: [number, number], T = 1): number {
  const [N] = shape;
  const logPs = logSoftmaxRef(s, shape, T);
  const pt = softmaxRef(t, shape, T);
  let total = 0;
  for (let i = 0; i < pt.length; i++) {
    if (pt[i] > 0) total += pt[i] * (Math.log(pt[i]) - logPs[i]);
  }
  return (total / N) * T * T;
}

/** d loss / d s[n,j] = T * (softmax(s/T)[n,j] - softmax(t/T)[n,j]) / N. */
export function klDivDistillGradRef(s: Float64Array, t: Float64Array, shape: [number, number], T = 1): Float64Array {
  const [N] = shape;
  const ps = softmaxRef(s, shape, T);
  const pt = softmaxRef(t, shape, T);
  const g = new Float64Array(ps.length);
  for (let i = 0; i < g.length; i++) g[i] = (T * (ps[i] - pt[i])) / N;
  return g;
}
