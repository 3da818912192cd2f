/**
 * Autograd through composite graphs: the GPU gradients of every leaf (weights and the input)
 * against central finite differences of the same graph composed from the float64 references
 * in engine/reference/ (plus one-line elementwise ReLU / add / scale). Graphs reuse tensors
 * (a residual add reads x twice; two losses share a trunk), so the tape's summing is exercised.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, numericGrad } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { backward, zeroGrad } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { conv2d } from '../../engine/ops/conv2d.ts';
import { relu } from '../../engine/ops/relu.ts';
import { add } from '../../engine/ops/add.ts';
import { scale } from '../../engine/ops/scale.ts';
import { reshape } from '../../engine/ops/reshape.ts';
import { linear } from '../../engine/ops/linear.ts';
import { crossEntropy } from '../../engine/ops/cross_entropy.ts';
import { klDivDistill } from '../../engine/ops/kl_div.ts';
import { mseLoss } from '../../engine/ops/mse_loss.ts';
import { conv2dRef, type Shape4, type ConvParamsRef } from '../../engine/reference/conv2d.ts';
import { linearRef } from '../../engine/reference/matmul.ts';
import { crossEntropyRef } from '../../engine/reference/cross_entropy.ts';
import { klDivDistillRef } from '../../engine/reference/kl_div.ts';
import { mseLossRef } from '../../engine/reference/mse_loss.ts';

test.before(async () => {
  await gpu();
});

const reluRef = (x: Float64Array) => x.map((v) => Math.max(0, v));
const addRef = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]);
const conv = (stride: number, padding: number): ConvParamsRef => ({
  stride: [stride, stride],
  padding: [padding, padding],
  dilation: [1, 1],
});

type Leaves = Record<string, number[]>;

const EPS32 = 1.2e-7;

/**
 * Check one graph: `ref` computes the loss in float64 from the leaves' values, `gpuLoss` the
 * same loss on the GPU from leaf tensors. Leaf values are float32-representable, so both see
 * identical inputs.
 * Tolerance, derived: `chain` is the total length of the float32 reductions along the graph's
 * longest forward-and-backward path (each conv's C*KH*KW, each linear's inputs, the loss's
 * classes or elements, each weight gradient's pixels): `chain` roundings of at most u = 2^-24
 * each, relative to the values they touch. In the worst case they add up to u * chain of the
 * scale (measured: 85-890x above the actual errors); rounding errors behave as independent and
 * mean-zero, so the probabilistic bound (Higham & Mary 2019) lambda * u * sqrt(chain) holds
 * with high probability; lambda = 2 gives EPS32 * sqrt(chain) of |loss| for the loss and of a
 * leaf's largest |gradient| for its gradient. Measured on lavapipe: the worst error is 1/5 to
 * 1/20 of that (the first graph's loss 1/74). The inputs are seeded, so the test is
 * deterministic. The finite differences are good to ~1e-9 (numericGrad's comment), far below.
 */
async function checkGraph(
  label: string,
  shapes: Leaves,
  ref: (v: Record<string, Float64Array>) => number,
  gpuLoss: (t: Record<string, Tensor>) => Tensor,
  seed: number,
  chain: number,
) {
  const rng = new Rng(seed);
  const names = Object.keys(shapes);
  const sizes = names.map((n) => shapes[n].reduce((a, b) => a * b, 1));
  const flat = Float64Array.from(
    rng.array(
      sizes.reduce((a, b) => a + b, 0),
      () => Math.fround(rng.normal(0, 0.5)),
    ),
  );
  const split = (x: Float64Array) => {
    const out: Record<string, Float64Array> = {};
    let o = 0;
    names.forEach((n, i) => {
      out[n] = x.subarray(o, o + sizes[i]);
      o += sizes[i];
    });
    return out;
  };
  const leaves: Record<string, Tensor> = {};
  const values = split(flat);
  for (const n of names) {
    leaves[n] = Tensor.from(values[n], shapes[n]);
    leaves[n].requiresGrad = true;
  }
  const loss = tidy(() => {
    const l = gpuLoss(leaves);
    backward(l);
    return l;
  });
  const refLoss = ref(values);
  assertClose(`${label} loss`, await loss.read(), [refLoss], { atol: EPS32 * Math.sqrt(chain) * Math.abs(refLoss), rtol: 0 });
  const fd = numericGrad((x) => ref(split(x)), flat);
  const fdParts = split(fd);
  for (const n of names) {
    assert.ok(leaves[n].grad, `${label}: ${n} received a gradient`);
    const scale = fdParts[n].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertClose(`${label} d loss / d ${n}`, await leaves[n].grad!.read(), fdParts[n], { atol: EPS32 * Math.sqrt(chain) * scale, rtol: 0 });
  }
  zeroGrad(Object.values(leaves));
  for (const t of [...Object.values(leaves), loss]) t.dispose();
}

test('conv(s=2,p=1) -> relu -> reshape -> linear -> crossEntropy x=[2,3,7,5] w1=[4,3,3,3] w2=[5,48]', async () => {
  const xs: Shape4 = [2, 3, 7, 5];
  const ws: Shape4 = [4, 3, 3, 3];
  const labels = [1, 4];
  await checkGraph(
    'conv-relu-linear-ce',
    { x: xs, w1: ws, b1: [4], w2: [5, 48], b2: [5] },
    (v) => {
      const h = reluRef(conv2dRef(v.x, xs, v.w1, ws, v.b1, conv(2, 1)).y); // [2,4,4,3]
      return crossEntropyRef(linearRef(h, v.w2, v.b2, 2, 48, 5), [2, 5], labels);
    },
    (t) => {
      const h = relu(conv2d(t.x, t.w1, t.b1, { stride: 2, padding: 1 }));
      return crossEntropy(linear(reshape(h, [2, 48]), t.w2, t.b2), labels);
    },
    1,
    // conv 3*3*3 = 27, linear 48, cross entropy 5 classes; backward: linear dx 5, conv dw over
    // 2*4*3 = 24 pixels, conv dx over 4*3*3 = 36 taps.
    27 + 48 + 5 + 5 + 24 + 36,
  );
});

test('residual + shared trunk, two losses: x=[1,3,6,5] used twice, kl(T=2) + 0.5*mse on the 1x1-conv map', async () => {
  const xs: Shape4 = [1, 3, 6, 5];
  const w1s: Shape4 = [3, 3, 3, 3];
  const w2s: Shape4 = [2, 3, 1, 1];
  const teacher = Float64Array.from([0.3, -1.2, 2.0, 0.1].map(Math.fround));
  const target = Float64Array.from({ length: 60 }, (_, i) => Math.fround(Math.cos(i)));
  await checkGraph(
    'residual-two-losses',
    { x: xs, w1: w1s, b1: [3], w2: w2s, w3: [4, 60], b3: [4] },
    (v) => {
      const r = addRef(reluRef(conv2dRef(v.x, xs, v.w1, w1s, v.b1, conv(1, 1)).y), v.x);
      const f = conv2dRef(r, xs, v.w2, w2s, null, conv(1, 0)).y; // [1,2,6,5]
      const logits = linearRef(f, v.w3, v.b3, 1, 60, 4);
      return klDivDistillRef(logits, teacher, [1, 4], 2) + 0.5 * mseLossRef(f, target);
    },
    (t) =>
      tidy(() => {
        const r = add(relu(conv2d(t.x, t.w1, t.b1, { padding: 1 })), t.x);
        const f = conv2d(r, t.w2, null, {});
        const logits = linear(reshape(f, [1, 60]), t.w3, t.b3);
        const tl = Tensor.from(teacher, [1, 4]);
        const tg = Tensor.from(target, [1, 2, 6, 5]);
        return add(klDivDistill(logits, tl, 2), scale(mseLoss(f, tg), 0.5));
      }),
    2,
    // conv 27, 1x1 conv 3, linear 60, KL 4 classes, MSE 60 elements; backward: linear dx 4,
    // 1x1 conv dx 2 and dw over 30 pixels, conv dx 27 taps, dw over 30 pixels.
    27 + 3 + 60 + 4 + 60 + 4 + 2 + 30 + 27 + 30,
  );
});

test.run();
