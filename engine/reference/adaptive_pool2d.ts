// Reference adaptive average and max pooling, float64 (PyTorch semantics).
// x, dx: N,C,H,W.  y, dy: N,C,OH,OW. Output i along an axis of length L pooled to O covers
// [floor(i*L/O), ceil((i+1)*L/O)); bins may overlap. Average: divide by the bin's own size.
// Max: first maximum in row-major bin order. Backward accumulates over overlapping bins.

export interface AdaptiveShape {
  n: number;
  c: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
}

export function binOf(i: number, len: number, out: number): [number, number] {
  return [Math.floor((i * len) / out), Math.ceil(((i + 1) * len) / out)];
}

/** Calls visit(o, inputIndices) for every output o with the flat x indices of its bin. */
function forEachBin(s: AdaptiveShape, visit: (o: number, inputs: number[]) => void) {
  for (let plane = 0; plane < s.n * s.c; plane++) {
    for (let i = 0; i < s.oh; i++) {
      for (let j = 0; j < s.ow; j++) {
        const [h0, h1] = binOf(i, s.h, s.oh);
        const [w0, w1] = binOf(j, s.w, s.ow);
        const inputs: number[] = [];
        for (let ih = h0; ih < h1; ih++) for (let iw = w0; iw < w1; iw++) inputs.push((plane * s.h + ih) * s.w + iw);
        visit((plane * s.oh + i) * s.ow + j, inputs);
      }
    }
  }
}

export function adaptiveAvgPoolForward(x: Float64Array, s: AdaptiveShape): Float64Array {
  const y = new Float64Array(s.n * s.c * s.oh * s.ow);
  forEachBin(s, (o, inputs) => {
    y[o] = inputs.reduce((acc, k) => acc + x[k], 0) / inputs.length;
  });
  return y;
}

export function adaptiveAvgPoolBackward(dy: Float64Array, s: AdaptiveShape): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  forEachBin(s, (o, inputs) => {
    for (const k of inputs) dx[k] += dy[o] / inputs.length;
  });
  return dx;
}

export function adaptiveMaxPoolForward(x: Float64Array, s: AdaptiveShape) {
  const y = new Float64Array(s.n * s.c * s.oh * s.ow);
  const chosen = new Int32Array(y.length);
  forEachBin(s, (o, inputs) => {
    let at = inputs[0];
    for (const k of inputs) if (x[k] > x[at]) at = k;
    y[o] = x[at];
    chosen[o] = at;
  });
  return { y, chosen };
}

export function adaptiveMaxPoolBackward(x: Float64Array, dy: Float64Array, s: AdaptiveShape): Float64Array {
  const { chosen } = adaptiveMaxPoolForward(x, s);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < dy.length; o++) dx[chosen[o]] += dy[o];
  return dx;
}
