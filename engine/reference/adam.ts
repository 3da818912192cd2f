// Float64 reference for one Adam / AdamW step on one parameter (flat arrays, updated in place),
// following torch.optim.Adam and torch.optim.AdamW (amsgrad off). t counts this parameter's steps.
//   Adam:  g = grad + weightDecay * param
//   AdamW: param = param * (1 - lr * weightDecay);  g = grad
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   mhat = m / (1 - beta1^t);   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   param -= lr * mhat / denom

export interface AdamRefState {
  t: number;
  m: Float64Array;
  v: Float64Array;
}

export function adamRefState(n: number): AdamRefState {
  return { t: 0, m: new Float64Array(n), v: new Float64Array(n) };
}

export function adamStepRef(
  param: Float64Array,
  grad: ArrayLike<number>,
  state: AdamRefState,
  opts: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean },
) {
  const { lr, beta1, beta2, eps, weightDecay, decoupled } = opts;
  state.t += 1;
  const bc1 = 1 - beta1 ** state.t;
  const bc2 = 1 - beta2 ** state.t;
  for (let i = 0; i < param.length; i++) {
    if (decoupled) param[i] *= 1 - lr * weightDecay;
    const g = decoupled ? grad[i] : grad[i] + weightDecay * param[i];
    state.m[i] = beta1 * state.m[i] + (1 - beta1) * g;
    state.v[i] = beta2 * state.v[i] + (1 - beta2) * g * g;
    const denom = Math.sqrt(state.v[i]) / Math.sqrt(bc2) + eps;
    param[i] -= (lr * (state.m[i] / bc1)) / denom;
  }
}
