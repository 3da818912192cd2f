// Reference area (box) downsampling by an integer factor F, float64 (avg_pool2d with
// kernel = stride = F). x, dx: N,C,H,W.  y, dy: N,C,floor(H/F),floor(W/F).

export interface AreaShape { n: number; c: number; h: number; w: number; factor: number }

export function areaForward(x: Float64Array, s: AreaShape): Float64Array {
  const oh = Math.floor(s.h / s.factor);
  const ow = Math.floor(s.w / s.factor);
  const y = new Float64Array(s.n * s.c * oh * ow);
  for (let plane = 0; plane < s.n * s.c; plane++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let sum = 0;
        for (let a = 0; a < s.factor; a++) {
          for (let b = 0; b < s.factor; b++) sum += x[(plane * s.h + i * s.factor + a) * s.w + j * s.factor + b];
        }
        y[(plane * oh + i) * ow + j] = sum / (s.factor * s.factor);
      }
    }
  }
  return y;
}

export function areaBackward(dy: Float64Array, s: AreaShape): Float64Array {
  const oh = Math.floor(s.h / s.factor);
  const ow = Math.floor(s.w / s.factor);
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  for (let plane = 0; plane < s.n * s.c; plane++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let a = 0; a < s.factor; a++) {
          for (let b = 0; b < s.factor; b++) {
            dx[(plane * s.h + i * s.factor + a) * s.w + j * s.factor + b] = dy[(plane * oh + i) * ow + j] / (s.factor * s.factor);
          }
        }
      }
    }
  }
  return dx;
}
