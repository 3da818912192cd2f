/**
 * linear (y = x w^T + b, nn.Linear layout) forward and backward against the float64 reference,
 * with and without bias, over shapes that do not divide the register blocks; the reference's
 * gradients against central finite differences; bad calls.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, numericGrad, dot, TOL, FD_TOL } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { linear } from '../../engine/ops/linear.ts';
import { linearRef, linearBackwardRef } from '../../engine/reference/matmul.ts';
import { Rng } from '../../engine/random.ts';
import { asF32 } from '../helpers/f32.ts';

test.before(async () => {
  await gpu();
});

// [N, K, M]: batch, in features, out features.
const SHAPES: { nkm: [number, number, number]; bias: boolean; why: string }[] = [
  { nkm: [8, 256, 5], bias: true, why: "the model's head: 256 features -> 5 classes, batch 8" },
  { nkm: [1, 3, 1], bias: true, why: 'batch 1, one output' },
  { nkm: [17, 9, 33], bias: false, why: 'no bias, sizes one past the block' },
  { nkm: [70, 130, 3], bias: true, why: 'rows and reduction past a tile' },
];

SHAPES.forEach(({ nkm: [N, K, M], bias, why }, idx) => {
  test(`linear forward + backward x=[${N},${K}] w=[${M},${K}]${bias ? ` b=[${M}]` : ' no bias'} (${why})`, async () => {
    const rng = new Rng(20 + idx);
    const x = asF32(rng.array(N * K)),
      w = asF32(rng.array(M * K)),
      b = bias ? asF32(rng.array(M)) : null,
      dy = asF32(rng.array(N * M));
    const xt = Tensor.from(x, [N, K]),
      wt = Tensor.from(w, [M, K]),
      bt = b ? Tensor.from(b, [M]) : null,
      dyt = Tensor.from(dy, [N, M]);
    for (const t of [xt, wt, bt]) if (t) t.requiresGrad = true;
    const y = linear(xt, wt, bt);
    assert.equal([...y.shape], [N, M]);
    assertClose(`linear forward`, await y.read(), linearRef(x, w, b, N, K, M), TOL.forLength(K));
    backward(y, dyt);
    const ref = linearBackwardRef(x, w, dy, N, K, M);
    // dx sums over M outputs; dw and db over the N rows of the batch.
    assertClose('linear dx', await xt.grad!.read(), ref.dx, TOL.forLength(M));
    assertClose('linear dw', await wt.grad!.read(), ref.dw, TOL.forLength(N));
    if (bt) assertClose('linear db', await bt.grad!.read(), ref.db, TOL.forLength(N));
    for (const t of [xt, wt, bt, dyt, y])
      if (t) {
        t.grad?.dispose();
        t.dispose();
      }
  });
});

test('linear reference backward vs finite differences x=[3,4] w=[2,4] b=[2]', () => {
  const rng = new Rng(5);
  const [N, K, M] = [3, 4, 2];
  const x = asF32(rng.array(N * K)),
    w = asF32(rng.array(M * K)),
    b = asF32(rng.array(M)),
    dy = asF32(rng.array(N * M));
  const ref = linearBackwardRef(x, w, dy, N, K, M);
  assertClose(
    'reference dx vs finite differences',
    ref.dx,
    numericGrad((v) => dot(linearRef(v, w, b, N, K, M), dy), x),
    FD_TOL,
  );
  assertClose(
    'reference dw vs finite differences',
    ref.dw,
    numericGrad((v) => dot(linearRef(x, v, b, N, K, M), dy), w),
    FD_TOL,
  );
  assertClose(
    'reference db vs finite differences',
    ref.db,
    numericGrad((v) => dot(linearRef(x, w, v, N, K, M), dy), b),
    FD_TOL,
  );
});

test('bad linear calls throw before dispatch, naming linear and the shapes', () => {
  tidy(() => {
    assert.throws(
      () => linear(Tensor.empty([2, 3]), Tensor.empty([5, 4]), null),
      /linear: x has 3 features but w \[out, in\] expects 4 \(x \[2,3\], w \[5,4\]\)/,
    );
    assert.throws(
      () => linear(Tensor.empty([2, 3]), Tensor.empty([5, 3]), Tensor.empty([4])),
      /linear: bias must be f32 \[5\] \(x \[2,3\], w \[5,3\], b \[4\]\)/,
    );
    assert.throws(() => linear(Tensor.empty([2, 3, 1]), Tensor.empty([5, 3]), null), /linear: x must be 2-D/);
  });
});

test.run();
