// Reference bicubic resize, float64: PyTorch interpolate(mode='bicubic', align_corners=False)
// to a given output size, no antialiasing.
// x, dx: N,C,H,W.  y, dy: N,C,OH,OW.
// Along an axis (in -> out), output o samples s = (o + 0.5) * in / out - 0.5 (not clamped);
// f = floor(s), t = s - f; taps f-1 .. f+2, each clamped to [0, in-1], with Keys weights, A = -0.75.
// The backward is the transpose: each output's gradient goes back through the same 16 taps.

export interface ResizeShape {
  n: number;
  c: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
}

const A = -0.75;

/** Keys cubic convolution kernel at distance d. */
export function cubicWeight(d: number): number {
  const a = Math.abs(d);
  if (a <= 1) return (A + 2) * a ** 3 - (A + 3) * a ** 2 + 1;
  if (a < 2) return A * a ** 3 - 5 * A * a ** 2 + 8 * A * a - 4 * A;
  return 0;
}

/** The four (clamped index, weight) taps of output o along an axis. */
export function bicubicTaps(o: number, inLen: number, outLen: number): [number, number][] {
  const s = ((o + 0.5) * inLen) / outLen - 0.5;
  const f = Math.floor(s);
  const taps: [number, number][] = [];
  for (let k = -1; k <= 2; k++) {
    const idx = Math.min(Math.max(f + k, 0), inLen - 1);
    taps.push([idx, cubicWeight(s - (f + k))]);
  }
  return taps;
}

/** Calls visit(o, x index, weight) for each of the 16 taps of every output. */
function forEachTap(s: ResizeShape, visit: (o: number, k: number, weight: number) => void) {
  for (let plane = 0; plane < s.n * s.c; plane++) {
    for (let i = 0; i < s.oh; i++) {
      for (let j = 0; j < s.ow; j++) {
        const o = (plane * s.oh + i) * s.ow + j;
        for (const [ih, wy] of bicubicTaps(i, s.h, s.oh)) {
          for (const [iw, wx] of bicubicTaps(j, s.w, s.ow)) visit(o, (plane * s.h + ih) * s.w + iw, wy * wx);
        }
      }
    }
  }
}

export function bicubicForward(x: Float64Array, s: ResizeShape): Float64Array {
  const y = new Float64Array(s.n * s.c * s.oh * s.ow);
  forEachTap(s, (o, k, weight) => {
    y[o] += weight * x[k];
  });
  return y;
}

export function bicubicBackward(dy: Float64Array, s: ResizeShape): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  forEachTap(s, (o, k, weight) => {
    dx[k] += weight * dy[o];
  });
  return dx;
}
