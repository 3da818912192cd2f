// Reference max_pool2d, float64 (PyTorch semantics, no dilation).
// x, dx: N,C,H,W.  y, dy: N,C,OH,OW with OH = floor((H + 2*pad - KH) / stride) + 1.
// Padding acts as -infinity; ties go to the first maximum in row-major window order; backward
// sends each output's gradient to the input it chose, accumulating where windows overlap.

export interface MaxPoolShape {
  n: number;
  c: number;
  h: number;
  w: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

export function maxPoolOutputSize(s: MaxPoolShape): [number, number] {
  return [
    Math.floor((s.h + 2 * s.padding[0] - s.kernel[0]) / s.stride[0]) + 1,
    Math.floor((s.w + 2 * s.padding[1] - s.kernel[1]) / s.stride[1]) + 1,
  ];
}

/** y and, per output, the flat index into x of the chosen input. */
export function maxPoolForward(x: Float64Array, s: MaxPoolShape) {
  const [oh, ow] = maxPoolOutputSize(s);
  const y = new Float64Array(s.n * s.c * oh * ow);
  const chosen = new Int32Array(y.length);
  for (let plane = 0; plane < s.n * s.c; plane++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let best = -Infinity;
        let at = -1;
        for (let a = 0; a < s.kernel[0]; a++) {
          for (let b = 0; b < s.kernel[1]; b++) {
            const ih = i * s.stride[0] - s.padding[0] + a;
            const iw = j * s.stride[1] - s.padding[1] + b;
            if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue; // padding: -infinity
            const idx = (plane * s.h + ih) * s.w + iw;
            if (x[idx] > best) {
              best = x[idx];
              at = idx;
            }
          }
        }
        const o = (plane * oh + i) * ow + j;
        y[o] = best;
        chosen[o] = at;
      }
    }
  }
  return { y, chosen };
}

export function maxPoolBackward(x: Float64Array, dy: Float64Array, s: MaxPoolShape): Float64Array {
  const { chosen } = maxPoolForward(x, s);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < dy.length; o++) dx[chosen[o]] += dy[o];
  return dx;
}
