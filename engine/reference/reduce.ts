// Reference sum / mean over a set of axes, float64, by plain index arithmetic.
// x: row-major with shape `shape`; the result keeps every axis, reduced ones with size 1
// (callers drop them as they like: the flat order is the same).

/** Row-major multi-index of flat index i. */
function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

function ravel(idx: number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d] + idx[d];
  return i;
}

/** The shape with reduced axes set to 1. */
export function reducedShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Where x's element i lands in the reduced result. */
function target(i: number, shape: readonly number[], axes: number[]): number {
  const idx = unravel(i, shape).map((v, d) => (axes.includes(d) ? 0 : v));
  return ravel(idx, reducedShape(shape, axes));
}

function reducedCount(shape: readonly number[], axes: number[]): number {
  return axes.reduce((n, a) => n * shape[a], 1);
}

export function sumForward(x: Float64Array, shape: readonly number[], axes: number[], mean = false): Float64Array {
  const out = new Float64Array(reducedShape(shape, axes).reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) out[target(i, shape, axes)] += x[i];
  if (mean) return out.map((v) => v / reducedCount(shape, axes));
  return out;
}

/** dx[i] = dy[where x[i] went] (divided by the count for the mean). */
export function sumBackward(dy: Float64Array, shape: readonly number[], axes: number[], mean = false): Float64Array {
  const dx = new Float64Array(shape.reduce((a, b) => a * b, 1));
  const divide = mean ? reducedCount(shape, axes) : 1;
  for (let i = 0; i < dx.length; i++) dx[i] = dy[target(i, shape, axes)] / divide;
  return dx;
}
