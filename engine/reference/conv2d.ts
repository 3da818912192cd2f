/**
 * Float64 reference for conv2d, plain loops (PyTorch's documented Conv2d semantics:
 * cross-correlation, zero padding, output size floor((I + 2p - d(k-1) - 1)/s) + 1).
 *   x: N,C,H,W   w: O,C,KH,KW   b: O   y: N,O,OH,OW
 *   y[n,o,oh,ow] = b[o] + sum_{c,kh,kw} w[o,c,kh,kw] * x[n,c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
 * (terms whose input position falls in the padding are zero).
 */

export interface ConvParamsRef {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
}

export type Shape4 = [number, number, number, number];

export function conv2dOutShape(xShape: Shape4, wShape: Shape4, p: ConvParamsRef): Shape4 {
  const [N, , H, W] = xShape;
  const [O, , KH, KW] = wShape;
  const OH = Math.floor((H + 2 * p.padding[0] - p.dilation[0] * (KH - 1) - 1) / p.stride[0]) + 1;
  const OW = Math.floor((W + 2 * p.padding[1] - p.dilation[1] * (KW - 1) - 1) / p.stride[1]) + 1;
  return [N, O, OH, OW];
}

/**
 * Visit every (output element, tap) pair whose input position is inside the image:
 * visit(yIndex, xIndex, wIndex). Forward and backward both follow the definition through it.
 */
export function eachTerm(xShape: Shape4, wShape: Shape4, p: ConvParamsRef, visit: (yi: number, xi: number, wi: number) => void) {
  const [N, C, H, W] = xShape;
  const [O, , KH, KW] = wShape;
  const [, , OH, OW] = conv2dOutShape(xShape, wShape, p);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const yi = ((n * O + o) * OH + oh) * OW + ow;
          for (let c = 0; c < C; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * p.stride[0] - p.padding[0] + kh * p.dilation[0];
                const iw = ow * p.stride[1] - p.padding[1] + kw * p.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                visit(yi, ((n * C + c) * H + ih) * W + iw, ((o * C + c) * KH + kh) * KW + kw);
              }
        }
}

/** y = conv2d(x, w) + b. */
export function conv2dRef(
  x: Float64Array,
  xShape: Shape4,
  w: Float64Array,
  wShape: Shape4,
  b: Float64Array | null,
  p: ConvParamsRef,
): { y: Float64Array; shape: Shape4 } {
  const shape = conv2dOutShape(xShape, wShape, p);
  const [N, O, OH, OW] = shape;
  const y = new Float64Array(N * O * OH * OW);
  if (b) for (let i = 0; i < y.length; i++) y[i] = b[Math.floor(i / (OH * OW)) % O];
  eachTerm(xShape, wShape, p, (yi, xi, wi) => {
    y[yi] += w[wi] * x[xi];
  });
  return { y, shape };
}

/**
 * Analytic gradients of L = sum(y * dy): each term w*x of y[yi] sends dy[yi]*w to dx and
 * dy[yi]*x to dw; db[o] sums dy over the batch and the map.
 */
export function conv2dBackwardRef(
  x: Float64Array,
  xShape: Shape4,
  w: Float64Array,
  wShape: Shape4,
  dy: Float64Array,
  p: ConvParamsRef,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const [, O, OH, OW] = conv2dOutShape(xShape, wShape, p);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(O);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / (OH * OW)) % O] += dy[i];
  eachTerm(xShape, wShape, p, (yi, xi, wi) => {
    dx[xi] += dy[yi] * w[wi];
    dw[wi] += dy[yi] * x[xi];
  });
  return { dx, dw, db };
}
