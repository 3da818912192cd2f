// Float64 reference for the mean absolute error of two same-size flat arrays a, b.
// PyTorch: F.l1_loss(a, b) = mean(|a - b|); gradient sign(a - b) / numel w.r.t. a (0 at a tie),
// the negative w.r.t. b.

export function l1LossRef(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** d loss / d a (d loss / d b is its negative). */
export function l1LossGradRef(a: Float64Array, b: Float64Array): Float64Array {
  const g = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) g[i] = Math.sign(a[i] - b[i]) / a.length;
  return g;
}
