// Float64 reference for the mean squared error of two same-size flat arrays a, b.
// PyTorch: F.mse_loss(a, b) = mean((a - b)^2); gradient 2 (a - b) / numel w.r.t. a, the negative w.r.t. b.

export function mseLossRef(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s / a.length;
}

/** d loss / d a (d loss / d b is its negative). */
export function mseLossGradRef(a: Float64Array, b: Float64Array): Float64Array {
  const g = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) g[i] = (2 * (a[i] - b[i])) / a.length;
  return g;
}
