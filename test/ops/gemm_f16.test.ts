// @smoke-gl
/**
 * The f16 GEMM variants (precision 'f16', engine/precision.ts: operands staged in f16, products
 * in f16, f32 accumulation; the …F16 entries of MATMUL_VARIANTS and CONV2D_VARIANTS) against the float64
 * reference: matmul and conv2d, forward and both backward passes, over awkward shapes and a
 * ResNet 3x3 layer (reduction of 576). Tolerance: f16GemmTol (test/helpers/f32.ts): 3 x the f16
 * unit roundoff 2^-11 times the reduction's sum of |products| (at most its length times max |a||b|),
 * plus the f32 bound. Each comparison also prints the f32 variant's worst error on the same data,
 * so the cost of f16 is visible, and checks that the f16 kernel computes exactly what it claims:
 * the float64 sum of the f16 products of f16-rounded operands, to f32 accuracy.
 * On an adapter without 'shader-f16' (the GL adapter, SwiftShader) the f16 half is skipped with
 * the reason printed and the f32 comparisons still run; asking for f16 there must throw an error
 * naming the adapter and the remedy (tested on every adapter, by opening a device without the
 * feature where the adapter has it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL, type Tol } from '../helpers/gpu.ts';
import { asF32, f16GemmTol } from '../helpers/f32.ts';
import { closeRuntime, initRuntime, runtime, type DispatchInfo } from '../../engine/runtime.ts';
import { precision, setPrecision, withPrecision } from '../../engine/precision.ts';
import { LimitError } from '../../engine/errors.ts';
import { benchMeta } from '../../bench/meta.ts';
import { Tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { conv2d } from '../../engine/ops/conv2d.ts';
import { matmul } from '../../engine/ops/matmul.ts';
import { conv2dRef, conv2dBackwardRef, conv2dOutShape, eachTerm, type ConvParamsRef, type Shape4 } from '../../engine/reference/conv2d.ts';
import { matmulRef, matmulBackwardRef } from '../../engine/reference/matmul.ts';

await gpu();
const hasF16 = runtime().gpu.caps.shaderF16;
const adapterName = runtime().gpu.adapter.name;
const f16Test = hasF16 ? test : test.skip;
const noF16 = `${adapterName} has no 'shader-f16'`;
if (!hasF16) console.log(`  (f16 GEMM comparisons skipped: ${noF16}; the f32 ones run, and asking for f16 must fail)`);

/** v rounded to the nearest f16 (ties to even; subnormals below 2^-14; overflow to infinity). */
function f16round(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const a = Math.abs(v);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const q = 2 ** (Math.max(e, -14) - 10);
  const m = a / q;
  const f = Math.floor(m);
  const r = m - f > 0.5 || (m - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  const out = r * q;
  return Math.sign(v) * (out > 65504 ? Infinity : out);
}
const abs = (x: Float64Array) => x.map(Math.abs);
/** fn's value, computed on the first call only. */
function once<T>(fn: () => T): () => T {
  let v: { value: T } | null = null;
  return () => (v ??= { value: fn() }).value;
}
/** One term of the f16 kernels' reduction: the f16 product of the f16-rounded operands. */
const term16 = (a: number, b: number) => f16round(f16round(a) * f16round(b));

/** a [M,K] b [K,N] as the f16 kernels compute it, the f32 accumulation replaced by float64. */
function matmulModel16(a: Float64Array, b: Float64Array, M: number, K: number, N: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) c[m * N + n] += term16(a[m * K + k], b[k * N + n]);
  return c;
}
function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}
/** conv2d's forward, dx and dw as the f16 kernels compute them (every term through term16). */
function convModel16(x: Float64Array, xs: Shape4, w: Float64Array, ws: Shape4, dy: Float64Array, p: ConvParamsRef) {
  const y = new Float64Array(dy.length),
    dx = new Float64Array(x.length),
    dw = new Float64Array(w.length);
  eachTerm(xs, ws, p, (yi, xi, wi) => {
    y[yi] += term16(w[wi], x[xi]);
    dx[xi] += term16(dy[yi], w[wi]);
    dw[wi] += term16(dy[yi], x[xi]);
  });
  return { y, dx, dw };
}

interface Pass {
  label: string;
  /** GPU result at each precision (f16: null on an adapter without shader-f16). */
  f32: ArrayLike<number>;
  f16: ArrayLike<number> | null;
  /** Float64 result; for f16, its arithmetic in float64 (matmulModel16, convModel16) and the result on |operands| (the sums of |products|). */
  exact: Float64Array;
  model16: () => Float64Array;
  sumAbs: () => Float64Array;
  /** Reduction length. */
  n: number;
}

/**
 * Compare both precisions of one pass with the reference: f32 within TOL.forLength, f16 within
 * f16GemmTol; the f16 result against a float64 model of its arithmetic (each term the f16 product
 * of f16-rounded operands, rounded to nearest) within the f32 bound, so the kernel rounds what it
 * claims to and accumulates in f32; and the f16 error above the f32 one (the f16 kernel really
 * ran: a compiler may not drop a product taken in f16). Prints the cost of f16.
 */
function comparePass(p: Pass) {
  const e32 = assertClose(`${p.label} f32`, p.f32, p.exact, TOL.forLength(p.n));
  if (!p.f16) {
    console.log(`    ${p.label} f16: skipped (${noF16})`);
    return;
  }
  const tol: Tol = f16GemmTol(p.sumAbs(), p.n);
  const e16 = assertClose(`${p.label} f16`, p.f16, p.exact, tol);
  assertClose(`${p.label} f16 vs its arithmetic (f16 products) in float64`, p.f16, p.model16(), TOL.forLength(p.n));
  console.log(
    `    ${p.label}: f16 worst ${e16.maxAbs.toExponential(2)} = ${(e16.maxAbs / e32.maxAbs).toFixed(0)}x f32's ${e32.maxAbs.toExponential(2)}; ` +
      `bound ${tol.atol.toExponential(2)} (n=${p.n}), worst/bound ${(e16.maxAbs / tol.atol).toFixed(3)}`,
  );
  assert.ok(
    e16.maxAbs > 4 * e32.maxAbs,
    `${p.label}: the f16 error ${e16.maxAbs} should exceed the f32 one ${e32.maxAbs}: did the f16 kernel run?`,
  );
}

/** Run fn's dispatches at both precisions (f16 only where the adapter has it); the reads wait for both. */
async function bothPrecisions<T>(fn: () => Promise<T>): Promise<{ f32: T; f16: T | null }> {
  const f32 = withPrecision('f32', fn);
  const f16 = hasF16 ? withPrecision('f16', fn) : null;
  return { f32: await f32, f16: f16 && (await f16) };
}

// [M, K, N]: odd sizes below a tile, a single row and column, a long reduction, a wide output.
const MATMUL_CASES: [number, number, number][] = [
  [37, 53, 29],
  [1, 7, 1],
  [20, 1000, 9],
  [65, 300, 130],
];

for (const [M, K, N] of MATMUL_CASES) {
  test(`matmul [${M},${K}]x[${K},${N}] f32 and f16 vs float64 (forward, da, db)`, async () => {
    const rng = new Rng(M * 7 + K * 3 + N);
    const a = asF32(rng.array(M * K)),
      b = asF32(rng.array(K * N)),
      dc = asF32(rng.array(M * N));
    // Dispatches are recorded inside the precision scope; the reads happen after.
    const run = async () => {
      const at = Tensor.from(a, [M, K]),
        bt = Tensor.from(b, [K, N]),
        dct = Tensor.from(dc, [M, N]);
      at.requiresGrad = bt.requiresGrad = true;
      const c = matmul(at, bt);
      backward(c, dct);
      const out = { c: await c.read(), da: await at.grad!.read(), db: await bt.grad!.read() };
      for (const t of [at, bt, dct, c]) {
        t.grad?.dispose();
        t.dispose();
      }
      return out;
    };
    const got = await bothPrecisions(run);
    const ref = matmulBackwardRef(a, b, dc, M, K, N);
    const refA = once(() => matmulBackwardRef(abs(a), abs(b), abs(dc), M, K, N));
    // da = dc b^T, db = a^T dc.
    const label = `matmul [${M},${K}]x[${K},${N}]`;
    comparePass({
      label: `${label} forward`,
      f32: got.f32.c,
      f16: got.f16?.c ?? null,
      exact: matmulRef(a, b, M, K, N),
      model16: () => matmulModel16(a, b, M, K, N),
      sumAbs: () => matmulRef(abs(a), abs(b), M, K, N),
      n: K,
    });
    if (N > 1)
      comparePass({
        label: `${label} da`,
        f32: got.f32.da,
        f16: got.f16?.da ?? null,
        exact: ref.da,
        model16: () => matmulModel16(dc, transpose(b, K, N), M, N, K),
        sumAbs: () => refA().da,
        n: N,
      });
    if (M > 1)
      comparePass({
        label: `${label} db`,
        f32: got.f32.db,
        f16: got.f16?.db ?? null,
        exact: ref.db,
        model16: () => matmulModel16(transpose(a, M, K), dc, K, M, N),
        sumAbs: () => refA().db,
        n: M,
      });
  });
}

interface ConvCase {
  x: Shape4;
  w: Shape4;
  s?: [number, number];
  p?: [number, number];
  d?: [number, number];
  why: string;
}
// At f16 every conv runs the general kernels (the row kernels exist in f32 only).
const CONV_CASES: ConvCase[] = [
  { x: [2, 3, 10, 9], w: [5, 3, 3, 2], s: [2, 1], p: [0, 2], d: [1, 2], why: 'per-axis geometry, stride phases' },
  { x: [2, 3, 40, 37], w: [4, 3, 3, 3], p: [1, 1], why: 'split-K weight gradient' },
  { x: [1, 3, 19, 32], w: [16, 3, 7, 7], s: [2, 2], p: [3, 3], why: 'the stem: 7x7 stride 2' },
  { x: [2, 64, 8, 8], w: [64, 64, 3, 3], p: [1, 1], why: 'a ResNet 3x3 layer: reduction of 576' },
];

CONV_CASES.forEach((cc, i) => {
  test(`conv2d x=[${cc.x}] w=[${cc.w}] ${cc.why}: f32 and f16 vs float64 (forward, dx, dw)`, async () => {
    const rng = new Rng(300 + i);
    const pr: ConvParamsRef = { stride: cc.s ?? [1, 1], padding: cc.p ?? [0, 0], dilation: cc.d ?? [1, 1] };
    const yShape = conv2dOutShape(cc.x, cc.w, pr);
    const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
    const fanIn = cc.w[1] * cc.w[2] * cc.w[3];
    const x = asF32(rng.array(size(cc.x)));
    const w = asF32(rng.array(size(cc.w), () => rng.normal(0, 1 / Math.sqrt(fanIn))));
    const dy = asF32(rng.array(size(yShape)));
    const run = async () => {
      const xt = Tensor.from(x, cc.x),
        wt = Tensor.from(w, cc.w),
        dyt = Tensor.from(dy, yShape);
      xt.requiresGrad = wt.requiresGrad = true;
      const y = conv2d(xt, wt, null, pr);
      backward(y, dyt);
      const out = { y: await y.read(), dx: await xt.grad!.read(), dw: await wt.grad!.read() };
      for (const t of [xt, wt, dyt, y]) {
        t.grad?.dispose();
        t.dispose();
      }
      return out;
    };
    const got = await bothPrecisions(run);
    const g = conv2dBackwardRef(x, cc.x, w, cc.w, dy, pr);
    const gM = once(() => convModel16(x, cc.x, w, cc.w, dy, pr));
    const gA = once(() => conv2dBackwardRef(abs(x), cc.x, abs(w), cc.w, abs(dy), pr));
    const label = `conv2d x=[${cc.x}] w=[${cc.w}]`;
    comparePass({
      label: `${label} forward`,
      f32: got.f32.y,
      f16: got.f16?.y ?? null,
      exact: conv2dRef(x, cc.x, w, cc.w, null, pr).y,
      model16: () => gM().y,
      sumAbs: () => conv2dRef(abs(x), cc.x, abs(w), cc.w, null, pr).y,
      n: fanIn,
    });
    const n = cc.w[0] * cc.w[2] * cc.w[3];
    comparePass({
      label: `${label} dx`,
      f32: got.f32.dx,
      f16: got.f16?.dx ?? null,
      exact: g.dx,
      model16: () => gM().dx,
      sumAbs: () => gA().dx,
      n,
    });
    const pixels = yShape[0] * yShape[2] * yShape[3];
    comparePass({
      label: `${label} dw`,
      f32: got.f32.dw,
      f16: got.f16?.dw ?? null,
      exact: g.dw,
      model16: () => gM().dw,
      sumAbs: () => gA().dw,
      n: pixels,
    });
  });
});

f16Test('precision f16 selects the …F16 GEMM kernels and no row kernel; f32 (the default) none of them', () => {
  const names: string[] = [];
  runtime().observer = {
    beginDispatch(d: DispatchInfo) {
      names.push(d.spec.name);
      return undefined;
    },
  };
  try {
    assert.is(precision(), 'f32');
    const x = Tensor.from(new Float32Array(2 * 4 * 8 * 8).fill(0.5), [2, 4, 8, 8]);
    const w = Tensor.from(new Float32Array(4 * 4 * 9).fill(0.25), [4, 4, 3, 3]);
    const run = () => conv2d(x, w, null, { padding: 1 }).dispose();
    run();
    assert.ok(names.length > 0 && !names.some((n) => n.endsWith('F16')), names.join(', '));
    names.length = 0;
    withPrecision('f16', run);
    assert.equal(names, ['conv2dForwardF16']);
    assert.is(precision(), 'f32', 'restored after withPrecision');
    for (const t of [x, w]) t.dispose();
  } finally {
    runtime().observer = null;
  }
});

f16Test('bench JSON records the precision in force (bench/meta.ts)', () => {
  assert.is(benchMeta(runtime(), 'test', {}).precision, 'f32');
  assert.is(
    withPrecision('f16', () => benchMeta(runtime(), 'test', {}).precision),
    'f16',
  );
});

test("asking for f16 without 'shader-f16' throws, naming the adapter and the remedy", async () => {
  if (hasF16) {
    // Reopen the device without the feature (the adapter has it), then restore.
    await closeRuntime();
    await initRuntime({ withoutFeatures: ['shader-f16'] });
  }
  try {
    const name = runtime().gpu.adapter.name;
    assert.throws(
      () => setPrecision('f16'),
      (e: Error) =>
        e instanceof LimitError && e.message.includes(name) && /shader-f16/.test(e.message) && /--precision f32/.test(e.message),
    );
    assert.is(precision(), 'f32');
  } finally {
    if (hasF16) {
      await closeRuntime();
      await initRuntime();
    }
  }
});

test.run();
