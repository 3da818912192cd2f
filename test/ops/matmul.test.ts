// @smoke-gl
/**
 * matmul forward and backward against the float64 reference (engine/reference/matmul.ts), over
 * shapes that do not divide the 16x8 register blocks or the workgroup tiles (inputs float32-exact, so the
 * reference computes on the numbers the GPU holds); the reference's
 * gradients against central finite differences; bad calls.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, onGl, assertClose, numericGrad, dot, TOL, FD_TOL } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { matmul } from '../../engine/ops/matmul.ts';
import { matmulRef, matmulBackwardRef } from '../../engine/reference/matmul.ts';
import { Rng } from '../../engine/random.ts';
import { asF32 } from '../helpers/f32.ts';

test.before(async () => {
  await gpu();
});

// [M, K, N]; `gl` marks the compatibility-pass subset.
const SHAPES: { mkn: [number, number, number]; why: string; gl?: boolean }[] = [
  { mkn: [1, 1, 1], why: 'scalar product', gl: true },
  { mkn: [1, 37, 5], why: 'one row' },
  { mkn: [13, 7, 1], why: 'one column' },
  { mkn: [33, 65, 129], why: 'one past the block and tile sizes', gl: true },
  { mkn: [130, 3, 70], why: 'short reduction, rows and columns past a tile' },
  { mkn: [8, 1000, 16], why: 'long reduction' },
];

const shapes = onGl ? SHAPES.filter((s) => s.gl) : SHAPES;

shapes.forEach(({ mkn: [M, K, N], why }, idx) => {
  test(`matmul forward + backward a=[${M},${K}] b=[${K},${N}] (${why})`, async () => {
    const rng = new Rng(10 + idx);
    const a = asF32(rng.array(M * K)),
      b = asF32(rng.array(K * N)),
      dc = asF32(rng.array(M * N));
    const at = Tensor.from(a, [M, K]),
      bt = Tensor.from(b, [K, N]),
      dct = Tensor.from(dc, [M, N]);
    at.requiresGrad = true;
    bt.requiresGrad = true;
    const c = matmul(at, bt);
    assert.equal([...c.shape], [M, N]);
    // Each output sums K products of values in [-1, 1].
    assertClose(`matmul forward [${M},${K}]x[${K},${N}]`, await c.read(), matmulRef(a, b, M, K, N), TOL.forLength(K));
    backward(c, dct);
    const ref = matmulBackwardRef(a, b, dc, M, K, N);
    // da sums over N, db over M.
    assertClose(`matmul da [${M},${K}]`, await at.grad!.read(), ref.da, TOL.forLength(N));
    assertClose(`matmul db [${K},${N}]`, await bt.grad!.read(), ref.db, TOL.forLength(M));
    for (const t of [at, bt, dct, c]) {
      t.grad?.dispose();
      t.dispose();
    }
  });
});

test('matmul gradients flow only where required (b frozen)', async () => {
  const rng = new Rng(3);
  const [M, K, N] = [5, 6, 7];
  const a = asF32(rng.array(M * K)),
    b = asF32(rng.array(K * N)),
    dc = asF32(rng.array(M * N));
  const at = Tensor.from(a, [M, K]),
    bt = Tensor.from(b, [K, N]),
    dct = Tensor.from(dc, [M, N]);
  at.requiresGrad = true;
  const c = matmul(at, bt);
  backward(c, dct);
  assert.is(bt.grad, null);
  assertClose('matmul da with b frozen', await at.grad!.read(), matmulBackwardRef(a, b, dc, M, K, N).da, TOL.forLength(N));
  for (const t of [at, bt, dct, c]) {
    t.grad?.dispose();
    t.dispose();
  }
});

if (!onGl) {
  test('matmul reference backward vs finite differences a=[3,4] b=[4,5]', () => {
    const rng = new Rng(4);
    const [M, K, N] = [3, 4, 5];
    const a = asF32(rng.array(M * K)),
      b = asF32(rng.array(K * N)),
      dc = asF32(rng.array(M * N));
    const ref = matmulBackwardRef(a, b, dc, M, K, N);
    assertClose(
      'reference da vs finite differences',
      ref.da,
      numericGrad((v) => dot(matmulRef(v, b, M, K, N), dc), a),
      FD_TOL,
    );
    assertClose(
      'reference db vs finite differences',
      ref.db,
      numericGrad((v) => dot(matmulRef(a, v, M, K, N), dc), b),
      FD_TOL,
    );
  });
}

test('bad matmul calls throw before dispatch, naming matmul and the shapes', () => {
  tidy(() => {
    assert.throws(
      () => matmul(Tensor.empty([2, 3]), Tensor.empty([4, 5])),
      /matmul: inner dimensions differ: a has 3 columns, b has 4 rows \(a \[2,3\], b \[4,5\]\)/,
    );
    assert.throws(() => matmul(Tensor.empty([2, 3, 1]), Tensor.empty([3, 5])), /matmul: a must be 2-D \(a \[2,3,1\], b \[3,5\]\)/);
    assert.throws(() => matmul(Tensor.empty([2, 3]), Tensor.empty([3, 5], 'i32')), /matmul: b must be f32, got i32/);
    assert.throws(() => matmul(Tensor.empty([0, 3]), Tensor.empty([3, 5])), /matmul: a is empty/);
  });
});

test.run();
