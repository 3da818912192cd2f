// Reference ReLU, float64. x: any shape, flat.
// forward: y = max(x, 0). backward: dx = dy where x > 0, else 0 (0 at exactly 0, as PyTorch).

export function reluForward(x: Float64Array): Float64Array {
  return x.map((v) => (v > 0 ? v : 0));
}

export function reluBackward(x: Float64Array, dy: Float64Array): Float64Array {
  return x.map((v, i) => (v > 0 ? dy[i] : 0));
}
