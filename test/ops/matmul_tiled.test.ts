/**
 * The workgroup-memory tiled GEMM (gemmTiled, engine/ops/gemm_shared.ts) against the float64
 * reference (engine/reference/matmul.ts), in every tile configuration this adapter's limits allow,
 * with each operand stored plain or transposed (read through strides) and with and without the
 * per-column bias, over shapes no tile divides: single rows and columns, a reduction shorter than
 * one BK step, one past the 32 and 64 tiles, a long reduction. Runs on the default adapter and on
 * the GL pass. Tolerance: TOL.forLength(K) (engine/check.ts: a float32 sum of K products in any
 * order), plus the bias's one rounding, inside its 4-rounding allowance.
 */
import { test } from 'uvu';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { asF32 } from '../helpers/f32.ts';
import { Tensor } from '../../engine/tensor.ts';
import { Rng } from '../../engine/random.ts';
import { runtime } from '../../engine/runtime.ts';
import { gemmTiled } from '../../engine/ops/matmul.ts';
import { sharedTileConfigsFor } from '../../engine/ops/shared_tile_config.ts';
import { matmulRef } from '../../engine/reference/matmul.ts';

await gpu();

const SHAPES: { mkn: [number, number, number]; why: string }[] = [
  { mkn: [1, 1, 1], why: 'scalar product' },
  { mkn: [1, 37, 5], why: 'one row' },
  { mkn: [13, 7, 1], why: 'one column, K shorter than one step' },
  { mkn: [33, 65, 129], why: 'one past the 32 and 64 tiles' },
  { mkn: [130, 3, 70], why: 'short reduction, rows and columns past two tiles' },
  { mkn: [8, 1000, 16], why: 'long reduction' },
];

/** [rows][cols] row-major -> its transpose, row-major. */
function transpose(v: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = v[r * cols + c];
  return t;
}

const usable = sharedTileConfigsFor(runtime().limits);

SHAPES.forEach(({ mkn: [M, K, N], why }, idx) => {
  test(`tiled gemm [${M},${K}] x [${K},${N}] (${why}): every configuration, operands plain and transposed, with and without bias`, async () => {
    const rng = new Rng(600 + idx);
    const a = asF32(rng.array(M * K)),
      b = asF32(rng.array(K * N)),
      bias = asF32(rng.array(N));
    const plain = matmulRef(a, b, M, K, N);
    const withBias = plain.map((v, i) => v + bias[i % N]);
    const aT = Tensor.from(transpose(a, M, K), [K, M]),
      bT = Tensor.from(transpose(b, K, N), [N, K]);
    const at = Tensor.from(a, [M, K]),
      bt = Tensor.from(b, [K, N]),
      biasT = Tensor.from(bias, [N]);
    for (const s of usable) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const useBias = ta === tb;
          const c = gemmTiled({ t: ta ? aT : at, transposed: ta }, { t: tb ? bT : bt, transposed: tb }, useBias ? biasT : null, s);
          const label = `tiled ${s} gemm ${ta ? 'a^T' : 'a'} ${tb ? 'b^T' : 'b'}${useBias ? ' +bias' : ''} [${M},${K}]x[${K},${N}]`;
          assertClose(label, await c.read(), useBias ? withBias : plain, TOL.forLength(K));
          c.dispose();
        }
      }
    }
    for (const t of [aT, bT, at, bt, biasT]) t.dispose();
  });
});

test.run();
