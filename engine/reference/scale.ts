// Reference scaling by a constant, float64. x: any shape, flat.
// forward: y = alpha * x. backward: dx = alpha * dy.

export function scaleForward(x: Float64Array, alpha: number): Float64Array {
  return x.map((v) => alpha * v);
}

export function scaleBackward(dy: Float64Array, alpha: number): Float64Array {
  return dy.map((v) => alpha * v);
}
