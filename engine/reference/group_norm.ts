// Reference GroupNorm, float64 (PyTorch semantics).
// x, dy, dx: N,C,H,W.  weight, bias: C.  Groups are contiguous channel blocks of C/G channels;
// each (n, g) block is normalized by its mean and biased variance, eps inside the square root.

export interface GroupNormShape {
  n: number;
  c: number;
  h: number;
  w: number;
  groups: number;
  eps: number;
}

/** Mean and 1/sqrt(var + eps) of block (n, g). */
function blockStats(x: Float64Array, s: GroupNormShape, n: number, g: number): [number, number] {
  const per = s.c / s.groups;
  const hw = s.h * s.w;
  const start = (n * s.c + g * per) * hw;
  const len = per * hw;
  let total = 0;
  for (let i = 0; i < len; i++) total += x[start + i];
  const mean = total / len;
  let sq = 0;
  for (let i = 0; i < len; i++) sq += (x[start + i] - mean) ** 2;
  return [mean, 1 / Math.sqrt(sq / len + s.eps)];
}

export function groupNormForward(x: Float64Array, weight: Float64Array, bias: Float64Array, s: GroupNormShape): Float64Array {
  const y = new Float64Array(x.length);
  const per = s.c / s.groups;
  const hw = s.h * s.w;
  for (let n = 0; n < s.n; n++) {
    for (let g = 0; g < s.groups; g++) {
      const [mean, rstd] = blockStats(x, s, n, g);
      for (let c = g * per; c < (g + 1) * per; c++) {
        for (let i = 0; i < hw; i++) {
          const at = (n * s.c + c) * hw + i;
          y[at] = (x[at] - mean) * rstd * weight[c] + bias[c];
        }
      }
    }
  }
  return y;
}

/**
 * Analytic gradients. With xhat = (x - mean) * rstd and g = dy * weight over a block of L
 * elements: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)); dweight[c] = sum dy * xhat;
 * dbias[c] = sum dy (over n, h, w).
 */
export function groupNormBackward(x: Float64Array, weight: Float64Array, dy: Float64Array, s: GroupNormShape) {
  const dx = new Float64Array(x.length);
  const dweight = new Float64Array(s.c);
  const dbias = new Float64Array(s.c);
  const per = s.c / s.groups;
  const hw = s.h * s.w;
  const len = per * hw;
  for (let n = 0; n < s.n; n++) {
    for (let g = 0; g < s.groups; g++) {
      const [mean, rstd] = blockStats(x, s, n, g);
      let sumG = 0;
      let sumGXhat = 0;
      for (let c = g * per; c < (g + 1) * per; c++) {
        for (let i = 0; i < hw; i++) {
          const at = (n * s.c + c) * hw + i;
          const xhat = (x[at] - mean) * rstd;
          sumG += dy[at] * weight[c];
          sumGXhat += dy[at] * weight[c] * xhat;
          dweight[c] += dy[at] * xhat;
          dbias[c] += dy[at];
        }
      }
      for (let c = g * per; c < (g + 1) * per; c++) {
        for (let i = 0; i < hw; i++) {
          const at = (n * s.c + c) * hw + i;
          const xhat = (x[at] - mean) * rstd;
          dx[at] = rstd * (dy[at] * weight[c] - sumG / len - (xhat * sumGXhat) / len);
        }
      }
    }
  }
  return { dx, dweight, dbias };
}
