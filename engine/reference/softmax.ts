// Float64 references for softmax / log-softmax with temperature, over the last dim.
// x, y, dy, dx: N,C row-major. Plain loops following PyTorch's softmax(x / T, dim=-1).

/** y[n,j] = exp(x[n,j]/T) / sum_k exp(x[n,k]/T), computed with the row max subtracted. */
export function softmaxRef(x: Float64Array, [N, C]: [number, number], T = 1): Float64Array {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, x[n * C + j] / T);
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(x[n * C + j] / T - m);
    for (let j = 0; j < C; j++) y[n * C + j] = Math.exp(x[n * C + j] / T - m) / s;
  }
  return y;
}

/** y[n,j] = x[n,j]/T - log(sum_k exp(x[n,k]/T)), computed with the row max subtracted. */
export function logSoftmaxRef(x: Float64Array, [N, C]: [number, number], T = 1): Float64Array {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, x[n * C + j] / T);
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(x[n * C + j] / T - m);
    const logSum = m + Math.log(s);
    for (let j = 0; j < C; j++) y[n * C + j] = x[n * C + j] / T - logSum;
  }
  return y;
}

/**
 * Softmax backward from the Jacobian: dy_j/dx_k = y_j (delta_jk - y_k) / T, so
 * dx[n,k] = sum_j dy[n,j] * y[n,j] * (delta_jk - y[n,k]) / T.
 */
export function softmaxBackwardRef(x: Float64Array, shape: [number, number], T: number, dy: Float64Array): Float64Array {
  const [N, C] = shape;
  const y = softmaxRef(x, shape, T);
  const dx = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < C; k++) {
      let g = 0;
      for (let j = 0; j < C; j++) g += dy[n * C + j] * y[n * C + j] * ((j === k ? 1 : 0) - y[n * C + k]);
      dx[n * C + k] = g / T;
    }
  }
  return dx;
}

/**
 * Log-softmax backward from the Jacobian: d logy_j / dx_k = (delta_jk - softmax_k) / T, so
 * dx[n,k] = sum_j dy[n,j] * (delta_jk - softmax(x/T)[n,k]) / T.
 */
export function logSoftmaxBackwardRef(x: Float64Array, shape: [number, number], T: number, dy: Float64Array): Float64Array {
  const [N, C] = shape;
  const p = softmaxRef(x, shape, T);
  const dx = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < C; k++) {
      let g = 0;
      for (let j = 0; j < C; j++) g += dy[n * C + j] * ((j === k ? 1 : 0) - p[n * C + k]);
      dx[n * C + k] = g / T;
    }
  }
  return dx;
}
