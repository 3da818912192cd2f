// Float64 reference for one SGD step on one parameter (flat arrays, updated in place), following
// torch.optim.SGD (dampening 0, no Nesterov):
//   g = grad + weightDecay * param
//   momentum > 0: buf = g on the parameter's first step, else momentum * buf + g; param -= lr * buf
//   momentum = 0: param -= lr * g

export interface SgdRefState {
  /** null until the parameter's first step (PyTorch creates the buffer then). */
  buf: Float64Array | null;
}

export function sgdStepRef(param: Float64Array, grad: ArrayLike<number>, state: SgdRefState, lr: number, momentum: number, weightDecay: number) {
  const g = Float64Array.from(grad, (v, i) => v + weightDecay * param[i]);
  if (momentum > 0) {
    if (state.buf === null) state.buf = Float64Array.from(g);
    else for (let i = 0; i < g.length; i++) state.buf[i] = momentum * state.buf[i] + g[i];
    for (let i = 0; i < g.length; i++) param[i] -= lr * state.buf[i];
  } else {
    for (let i = 0; i < g.length; i++) param[i] -= lr * g[i];
  }
}
