// @smoke-gl
/**
 * conv2d forward, input gradient, weight gradient and bias gradient against the float64
 * reference (engine/reference/conv2d.ts), over awkward geometry named in each test; the
 * reference's own gradients against central finite differences; bad calls.
 * On the GL compatibility pass only the cases marked `gl` run (a fast subset).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, onGl, assertClose, numericGrad, dot, TOL, FD_TOL } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { gemmTiles } from '../../engine/ops/gemm_tiles.ts';
import {
  conv2d,
  splitK,
  conv2dForwardKernel,
  conv2dBackwardInputKernel,
  conv2dBackwardWeightKernel,
  conv2dGeometry,
} from '../../engine/ops/conv2d.ts';
import { conv2dRef, conv2dBackwardRef, conv2dOutShape, type ConvParamsRef, type Shape4 } from '../../engine/reference/conv2d.ts';
import { Rng } from '../../engine/random.ts';
import { asF32 } from '../helpers/f32.ts';

test.before(async () => {
  await gpu();
});

type P = number | [number, number];
interface Case {
  x: Shape4;
  w: Shape4;
  s?: P;
  p?: P;
  d?: P;
  bias?: boolean;
  gl?: boolean;
  why: string;
}

const CASES: Case[] = [
  { x: [2, 3, 7, 5], w: [4, 3, 3, 3], s: 2, p: 1, bias: true, gl: true, why: 'odd H != W, stride 2' },
  { x: [1, 5, 9, 11], w: [6, 5, 3, 3], p: 1, why: 'batch 1, channels not a multiple of 4' },
  { x: [3, 5, 1, 1], w: [7, 5, 1, 1], bias: true, gl: true, why: '1x1 map, 1x1 kernel' },
  { x: [2, 4, 1, 1], w: [3, 4, 3, 3], p: 1, why: '1x1 map, 3x3 kernel that reads only padding around it' },
  { x: [2, 3, 10, 9], w: [5, 3, 3, 2], s: [2, 1], p: [0, 2], d: [1, 2], gl: true, why: 'stride/padding/dilation differ per axis' },
  { x: [1, 2, 11, 8], w: [3, 2, 2, 3], s: [1, 3], p: [2, 1], d: [2, 1], bias: true, why: 'stride 3 on one axis, dilation on the other' },
  { x: [1, 2, 8, 8], w: [3, 2, 1, 1], s: 3, why: 'stride 3 1x1: input positions no window reads get zero gradient' },
  { x: [1, 3, 19, 17], w: [32, 3, 7, 7], s: 2, p: 3, gl: true, why: 'the 7x7 stride-2 stem (3 -> 32, pad 3)' },
  { x: [2, 32, 9, 7], w: [64, 32, 1, 1], s: 2, why: '1x1 stride-2 projection' },
  { x: [2, 32, 9, 7], w: [64, 32, 3, 3], s: 2, p: 1, why: "the model's stride-2 3x3 (32 -> 64)" },
  { x: [2, 64, 6, 5], w: [64, 64, 3, 3], p: 1, why: "the model's 3x3 at 64 channels" },
  { x: [1, 128, 3, 3], w: [256, 128, 3, 3], s: 2, p: 1, why: "the model's 128 -> 256 stride-2 3x3 (outputs 2x2)" },
  { x: [1, 256, 2, 2], w: [256, 256, 3, 3], p: 1, why: "the model's last 3x3: reduction 2304 long" },
  { x: [2, 7, 13, 67], w: [65, 7, 3, 3], p: 1, bias: true, why: 'rows longer than a tile, 65 outputs (tiles do not divide)' },
  { x: [2, 3, 40, 37], w: [4, 3, 3, 3], p: 1, gl: true, why: 'long weight-gradient reduction: split-K' },
  // The row kernels (3-wide stride-1, 3- and 7-wide stride-2 rows read as vec4s, 8 output pixels per invocation): the
  // forward also runs the input gradient at stride 1 on the flipped weight; the weight gradient
  // needs output rows of whole vec4s too. Which pass takes which kernel: the selection test below.
  {
    x: [2, 5, 7, 12],
    w: [6, 5, 3, 3],
    p: 1,
    bias: true,
    gl: true,
    why: 'row3, all three passes: rows of 12 (a half-filled segment), 6 outputs',
  },
  { x: [2, 64, 6, 8], w: [64, 64, 3, 3], p: 1, why: "row3, all three passes, at the model's 64 channels" },
  { x: [2, 3, 40, 36], w: [4, 3, 3, 3], p: 1, why: 'row3 weight gradient with a long reduction: split-K over chunks' },
  { x: [1, 3, 8, 8], w: [17, 3, 3, 3], s: [2, 1], p: 1, why: 'row3 forward and weight gradient, stride 2 along H, 17 outputs' },
  { x: [1, 3, 6, 8], w: [4, 3, 3, 3], p: [1, 3], why: 'row3 forward and weight gradient with padding 3 along W' },
  { x: [2, 4, 11, 8], w: [5, 4, 2, 3], d: [2, 1], why: 'row3 forward with no padding and a dilated 2-tap H axis' },
  { x: [1, 3, 5, 14], w: [4, 3, 3, 3], p: [1, 2], why: 'row3 input gradient with no padding (forward padding 2 along W)' },
  {
    x: [1, 3, 19, 32],
    w: [32, 3, 7, 7],
    s: 2,
    p: 3,
    gl: true,
    why: 'row7s2 forward and weight gradient: the stem on rows of 32 (outputs 16 wide)',
  },
  {
    x: [2, 3, 9, 28],
    w: [5, 3, 7, 7],
    s: [1, 2],
    p: [0, 2],
    bias: true,
    why: 'row7s2 with stride 1 along H, padding 2 along W, 13-wide outputs',
  },
  {
    x: [2, 5, 9, 16],
    w: [7, 5, 3, 3],
    s: 2,
    p: 1,
    why: 'row3s2 forward and weight gradient: a downsampling 3x3 on rows of 16 (outputs 8 wide), odd H',
  },
  {
    x: [1, 3, 6, 32],
    w: [4, 3, 3, 3],
    s: [1, 2],
    p: [1, 0],
    bias: true,
    why: 'row3s2 with no padding along W (15-wide outputs), stride 1 along H',
  },
  // backwardInput runs one dispatch per stride phase; where stride and dilation share a factor,
  // some phases receive no tap at all and must still write zeros.
  { x: [1, 3, 9, 10], w: [4, 3, 3, 3], s: 2, p: 2, d: 2, gl: true, why: 'stride 2 and dilation 2: odd phases get no taps' },
  { x: [2, 2, 13, 11], w: [3, 2, 2, 3], s: [3, 2], p: [1, 0], d: [3, 2], why: 'stride = dilation per axis (3, 2): most phases empty' },
];

function pairOf(v: P | undefined, fallback: number): [number, number] {
  return v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : v;
}

function paramsOf(c: Case): ConvParamsRef {
  return { stride: pairOf(c.s, 1), padding: pairOf(c.p, 0), dilation: pairOf(c.d, 1) };
}

function nameOf(c: Case): string {
  const pr = paramsOf(c);
  const fmt = (p: [number, number]) => (p[0] === p[1] ? `${p[0]}` : `[${p[0]},${p[1]}]`);
  return `x=[${c.x}] w=[${c.w}] s=${fmt(pr.stride)} p=${fmt(pr.padding)}${c.d ? ` d=${fmt(pr.dilation)}` : ''}${c.bias ? ' +bias' : ''} (${c.why})`;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Random inputs for a case; the same seed per case, so a failure reproduces. */
function inputsOf(c: Case, seed: number) {
  const rng = new Rng(seed);
  const pr = paramsOf(c);
  const yShape = conv2dOutShape(c.x, c.w, pr);
  return {
    pr,
    yShape,
    x: asF32(rng.array(size(c.x))),
    w: asF32(rng.array(size(c.w), () => rng.normal(0, 1 / Math.sqrt(c.w[1] * c.w[2] * c.w[3])))),
    b: c.bias ? asF32(rng.array(c.w[0])) : null,
    dy: asF32(rng.array(size(yShape))),
  };
}

const cases = onGl ? CASES.filter((c) => c.gl) : CASES;

cases.forEach((c, idx) => {
  const name = nameOf(c);
  const opts = { stride: c.s, padding: c.p, dilation: c.d };

  test(`conv2d forward ${name}`, async () => {
    const { pr, x, w, b } = inputsOf(c, 100 + idx);
    const ref = conv2dRef(x, c.x, w, c.w, b, pr);
    const y = tidy(() => conv2d(Tensor.from(x, c.x), Tensor.from(w, c.w), b ? Tensor.from(b, [c.w[0]]) : null, opts));
    assert.equal([...y.shape], ref.shape);
    // Each output sums C*KH*KW products of O(1) values in float32.
    assertClose(`forward ${name}`, await y.read(), ref.y, TOL.forLength(c.w[1] * c.w[2] * c.w[3]));
    y.dispose();
  });

  test(`conv2d backwardInput + backwardWeight + backwardBias ${name}`, async () => {
    const { pr, x, w, b, dy, yShape } = inputsOf(c, 200 + idx);
    const ref = conv2dBackwardRef(x, c.x, w, c.w, dy, pr);
    const xt = Tensor.from(x, c.x),
      wt = Tensor.from(w, c.w),
      bt = b ? Tensor.from(b, [c.w[0]]) : null;
    for (const t of [xt, wt, bt]) if (t) t.requiresGrad = true;
    const dyt = Tensor.from(dy, yShape);
    const y = conv2d(xt, wt, bt, opts);
    backward(y, dyt);
    // Reduction lengths: dx sums over O*KH*KW taps, dw and db over N*OH*OW output pixels.
    const pixels = yShape[0] * yShape[2] * yShape[3];
    assertClose(`backwardInput ${name}`, await xt.grad!.read(), ref.dx, TOL.forLength(c.w[0] * c.w[2] * c.w[3]));
    assertClose(`backwardWeight ${name}`, await wt.grad!.read(), ref.dw, TOL.forLength(pixels));
    if (bt) assertClose(`backwardBias ${name}`, await bt.grad!.read(), ref.db, TOL.forLength(pixels));
    for (const t of [xt, wt, bt, y, dyt])
      if (t) {
        t.grad?.dispose();
        t.dispose();
      }
  });
});

test('the split-K case really splits, and the model-sized weight gradient does too', () => {
  // x=[2,3,40,37] w=[4,3,3,3] p=1: K = 2*40*37 = 2960 over one tile.
  assert.ok(splitK(2960, 1)[0] > 1, 'the test table must exercise the split-K sum');
  // First 3x3 layer at batch 8, 64x64: K = 32768 over a 32 x 288 weight (3 tiles).
  const K = 8 * 64 * 64;
  const [splits, kSplit] = splitK(K, 3);
  assert.ok(splits > 1, 'a long reduction over few tiles is split');
  assert.ok(splits * kSplit >= K && (splits - 1) * kSplit < K, 'the splits cover K exactly, none empty');
});

// The reference's analytic gradients against central finite differences, on tiny shapes.
const FD_CASES: Case[] = [
  { x: [2, 2, 5, 4], w: [3, 2, 3, 2], s: [2, 1], p: [1, 0], d: [1, 2], bias: true, why: 'per-axis geometry' },
  { x: [1, 3, 6, 7], w: [2, 3, 3, 3], s: 2, p: 2, bias: true, why: 'stride 2, padding 2' },
];
if (!onGl) {
  FD_CASES.forEach((c, idx) => {
    test(`conv2d reference backward vs finite differences ${nameOf(c)}`, () => {
      const { pr, x, w, b, dy } = inputsOf(c, 300 + idx);
      const ref = conv2dBackwardRef(x, c.x, w, c.w, dy, pr);
      const loss = (xv: Float64Array, wv: Float64Array, bv: Float64Array | null) => dot(conv2dRef(xv, c.x, wv, c.w, bv, pr).y, dy);
      assertClose(
        'reference dx vs finite differences',
        ref.dx,
        numericGrad((v) => loss(v, w, b), x),
        FD_TOL,
      );
      assertClose(
        'reference dw vs finite differences',
        ref.dw,
        numericGrad((v) => loss(x, v, b), w),
        FD_TOL,
      );
      assertClose(
        'reference db vs finite differences',
        ref.db,
        numericGrad((v) => loss(x, w, v), b!),
        FD_TOL,
      );
    });
  });
}

test('the row kernels run the row-shaped cases above (3-wide stride 1; 3-, 7-wide stride 2), the general ones the rest', () => {
  // The row kernels need subgroups (the GL adapter has none: everything runs the general kernels).
  const subgroups = gemmTiles().sharing === 'subgroups';
  const passes = (xs: Shape4, ws: Shape4, opts: { stride?: P; padding?: P; dilation?: P }) =>
    tidy(() => {
      const g = conv2dGeometry(Tensor.empty(xs), Tensor.empty(ws), null, opts);
      return [conv2dForwardKernel(g), conv2dBackwardInputKernel(g), conv2dBackwardWeightKernel(g)].join(' ');
    });
  const expectPasses = (xs: Shape4, ws: Shape4, opts: { stride?: P; padding?: P; dilation?: P }, kernels: string) =>
    assert.is(passes(xs, ws, opts), subgroups ? kernels : 'general general general');
  // forward, input gradient, weight gradient
  expectPasses([2, 5, 7, 12], [6, 5, 3, 3], { padding: 1 }, 'row3 row3 row3');
  expectPasses([2, 64, 6, 8], [64, 64, 3, 3], { padding: 1 }, 'row3 row3 row3');
  expectPasses([2, 3, 40, 36], [4, 3, 3, 3], { padding: 1 }, 'row3 row3 row3');
  expectPasses([1, 3, 8, 8], [17, 3, 3, 3], { stride: [2, 1], padding: 1 }, 'row3 general row3');
  expectPasses([1, 3, 6, 8], [4, 3, 3, 3], { padding: [1, 3] }, 'row3 general row3');
  expectPasses([2, 4, 11, 8], [5, 4, 2, 3], { dilation: [2, 1] }, 'row3 general general');
  expectPasses([1, 3, 5, 14], [4, 3, 3, 3], { padding: [1, 2] }, 'general row3 general');
  expectPasses([1, 3, 19, 32], [32, 3, 7, 7], { stride: 2, padding: 3 }, 'row7s2 general row7s2');
  expectPasses([2, 3, 9, 28], [5, 3, 7, 7], { stride: [1, 2], padding: [0, 2] }, 'row7s2 general general');
  expectPasses([2, 5, 9, 16], [7, 5, 3, 3], { stride: 2, padding: 1 }, 'row3s2 general row3s2');
  expectPasses([1, 3, 6, 32], [4, 3, 3, 3], { stride: [1, 2], padding: [1, 0] }, 'row3s2 general general');
  expectPasses([2, 6, 7, 28], [9, 6, 1, 1], { stride: 2 }, 'general general general');
  // Rows not of whole vec4s, rows so short that most of a segment would idle, strided, dilated
  // or not 3 wide along W.
  expectPasses([2, 7, 13, 67], [65, 7, 3, 3], { padding: 1 }, 'general general general');
  expectPasses([2, 4, 1, 1], [3, 4, 3, 3], { padding: 1 }, 'general general general');
  expectPasses([2, 32, 8, 8], [64, 32, 3, 3], { stride: 2, padding: 1 }, 'general general general');
  expectPasses([2, 3, 10, 8], [5, 3, 3, 3], { dilation: [1, 2], padding: 2 }, 'general general general');
  expectPasses([1, 3, 17, 17], [32, 3, 7, 7], { stride: 2, padding: 3 }, 'general general general');
});

test('bad conv2d calls throw before dispatch, naming conv2d and the shapes', () => {
  tidy(() => {
    const x = Tensor.empty([1, 3, 5, 5]);
    const w = Tensor.empty([4, 3, 3, 3]);
    assert.throws(
      () => conv2d(x, Tensor.empty([4, 2, 3, 3]), null),
      /conv2d: input has 3 channels but the weight expects 2 \(x \[1,3,5,5\], w \[4,2,3,3\]\)/,
    );
    assert.throws(
      () => conv2d(x, w, null, { padding: -1 }),
      /conv2d: padding -1 must be a whole number >= 0.*x \[1,3,5,5\], w \[4,3,3,3\]/,
    );
    assert.throws(
      () => conv2d(x, Tensor.empty([4, 3, 7, 7]), null, { padding: 0 }),
      /conv2d: kernel 7x7 \(dilation 1,1\) is larger than the padded input 5x5 \(x \[1,3,5,5\], w \[4,3,7,7\]/,
    );
    assert.throws(() => conv2d(x, w, null, { dilation: [3, 1] }), /conv2d: kernel 3x3 \(dilation 3,1\) is larger than the padded input/);
    assert.throws(() => conv2d(Tensor.empty([3, 5, 5]), w, null), /conv2d: input must be 4-D \[N,C,H,W\] \(x \[3,5,5\]/);
    assert.throws(() => conv2d(x, Tensor.empty([4, 3, 9]), null), /conv2d: weight must be 4-D/);
    assert.throws(() => conv2d(x, w, Tensor.empty([3])), /conv2d: bias must be \[4\].*b \[3\]/);
    assert.throws(() => conv2d(x, w, null, { stride: 0 }), /conv2d: stride 0 must be a whole number >= 1/);
    assert.throws(() => conv2d(x, w, null, { stride: 1.5 }), /conv2d: stride 1.5 must be a whole number/);
  });
});

test.run();
