/**
 * Float64 references for matmul and linear, plain loops.
 *   matmul: a: M,K  b: K,N  ->  c: M,N      c[i,j] = sum_k a[i,k] b[k,j]
 *   linear: x: N,K  w: M,K  b: M  ->  y: N,M  y[n,m] = b[m] + sum_k x[n,k] w[m,k]   (PyTorch nn.Linear)
 */

export function matmulRef(a: Float64Array, b: Float64Array, M: number, K: number, N: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
      c[i * N + j] = s;
    }
  return c;
}

/** Gradients of L = sum(c * dc): da[i,k] = sum_j dc[i,j] b[k,j]; db[k,j] = sum_i a[i,k] dc[i,j]. */
export function matmulBackwardRef(
  a: Float64Array,
  b: Float64Array,
  dc: Float64Array,
  M: number,
  K: number,
  N: number,
): { da: Float64Array; db: Float64Array } {
  const da = new Float64Array(M * K);
  const db = new Float64Array(K * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++)
      for (let j = 0; j < N; j++) {
        da[i * K + k] += dc[i * N + j] * b[k * N + j];
        db[k * N + j] += a[i * K + k] * dc[i * N + j];
      }
  return { da, db };
}

export function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | null, N: number, K: number, M: number): Float64Array {
  const y = new Float64Array(N * M);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      let s = b ? b[m] : 0;
      for (let k = 0; k < K; k++) s += x[n * K + k] * w[m * K + k];
      y[n * M + m] = s;
    }
  return y;
}

/** Gradients of L = sum(y * dy): dx = dy w, dw = dy^T x, db = column sums of dy. */
export function linearBackwardRef(
  x: Float64Array,
  w: Float64Array,
  dy: Float64Array,
  N: number,
  K: number,
  M: number,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(N * K);
  const dw = new Float64Array(M * K);
  const db = new Float64Array(M);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      const g = dy[n * M + m];
      db[m] += g;
      for (let k = 0; k < K; k++) {
        dx[n * K + k] += g * w[m * K + k];
        dw[m * K + k] += g * x[n * K + k];
      }
    }
  return { dx, dw, db };
}
