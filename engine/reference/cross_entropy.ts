// Float64 reference for mean cross-entropy. x: N,C row-major logits; labels: N class indices.
// PyTorch: F.cross_entropy(x, labels) = mean_n ( -log_softmax(x)[n, labels[n]] ).
import { softmaxRef, logSoftmaxRef } from './softmax.ts';

export function crossEntropyRef(x: Float64Array, shape: [number, number], labels: ArrayLike<number>): number {
  const [N, C] = shape;
  const logp = logSoftmaxRef(x, shape);
  let total = 0;
  for (let n = 0; n < N; n++) total -= logp[n * C + labels[n]];
  return total / N;
}

/** d loss / d x[n,j] = (softmax(x)[n,j] - [j == labels[n]]) / N. */
export function crossEntropyGradRef(x: Float64Array, shape: [number, number], labels: ArrayLike<number>): Float64Array {
  const [N, C] = shape;
  const g = softmaxRef(x, shape);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < C; j++) g[n * C + j] = (g[n * C + j] - (j === labels[n] ? 1 : 0)) / N;
  }
  return g;
}
