// @smoke-gl
/**
 * Workgroup folding for every kernel that folds: the runtime turns a 1-D workgroup count above
 * maxComputeWorkgroupsPerDimension into a 2-D grid, and each such kernel recovers its linear
 * workgroup id with `linear_workgroup` (kernels/include/common.wgsl). Every op below runs twice,
 * at the adapter's limit and under a forced limit of 24 workgroups per dimension, and must give
 * bit-identical results (same pipelines, same arithmetic: only the grid differs; a kernel that
 * ignored the second grid dimension would leave most of its output unwritten). Then every kernel
 * file whose code calls linear_workgroup must have run folded (a dispatch with a y count > 1).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gpu } from '../helpers/gpu.ts';
import { runtime, type DispatchInfo } from '../../engine/runtime.ts';
import { loadWgsl, FEATURE_CAPS, type KernelVariant } from '../../engine/kernel.ts';
import { KERNEL_DIR } from '../../engine/platform/node.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { relu } from '../../engine/ops/relu.ts';
import { add } from '../../engine/ops/add.ts';
import { scale } from '../../engine/ops/scale.ts';
import { maxPool2d } from '../../engine/ops/max_pool2d.ts';
import { adaptiveAvgPool2d } from '../../engine/ops/adaptive_avg_pool2d.ts';
import { adaptiveMaxPool2d } from '../../engine/ops/adaptive_max_pool2d.ts';
import { groupNorm, forceGroupNormPath } from '../../engine/ops/group_norm.ts';
import { groupNormRelu } from '../../engine/ops/group_norm_act.ts';
import { batchNorm } from '../../engine/ops/batch_norm.ts';
import { bicubicResize } from '../../engine/ops/bicubic_resize.ts';
import { softmax, logSoftmax } from '../../engine/ops/softmax.ts';
import { crossEntropy } from '../../engine/ops/cross_entropy.ts';
import { klDivDistill } from '../../engine/ops/kl_div.ts';
import { mseLoss } from '../../engine/ops/mse_loss.ts';
import { l1Loss } from '../../engine/ops/l1_loss.ts';
import { conv2d, CONV2D_VARIANTS } from '../../engine/ops/conv2d.ts';
import { usableRowSharings } from '../../engine/ops/gemm_tiles.ts';
import { Adam } from '../../engine/optim/adam.ts';

const LIMIT = 24;

test.before(async () => {
  await gpu();
});

/** Leaf tensors with seeded data; `grad` makes them require gradients. */
function leaf(rng: Rng, shape: number[], grad = true): Tensor {
  const t = Tensor.from(rng.array(shape.reduce((a, b) => a * b, 1)), shape);
  t.requiresGrad = grad;
  return t;
}

/** Backpropagate a seeded upstream gradient from each output (gradients accumulate); return the outputs. */
function backprop(rng: Rng, ...ys: Tensor[]): Tensor[] {
  for (const y of ys) backward(y, Tensor.from(rng.array(y.size), [...y.shape]));
  return ys;
}

// Sizes chosen so each folding kernel's 1-D count lies in (LIMIT, LIMIT^2] for at least one of
// its dispatches: 2x32x32x16 = 32768 elements (32 groups of 1024, 128 of 256), 64 planes, 32
// channels, 40 rows, a 64-channel conv weight (split-K over 4 slices).
const CASES: [string, (rng: Rng) => Tensor[]][] = [
  [
    'relu, add, scale',
    (rng) => {
      // relu runs 16 elements per invocation (4 vec4s): 131072 elements make 32 groups of 256.
      const x = leaf(rng, [2, 64, 32, 32]),
        x2 = leaf(rng, [2, 64, 32, 32]);
      const y = scale(add(relu(x), x2), 0.5);
      return [...backprop(rng, y), x.grad!, x2.grad!];
    },
  ],
  [
    'maxPool2d 3x3/2 and 2x2, adaptive pools',
    (rng) => {
      const x = leaf(rng, [2, 32, 32, 16]);
      const outs = [
        maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }),
        maxPool2d(x, { kernel: 2 }),
        adaptiveAvgPool2d(x, [1, 1]),
        adaptiveAvgPool2d(x, [2, 1]),
        adaptiveMaxPool2d(x, [3, 5]),
      ];
      return [...backprop(rng, ...outs), x.grad!];
    },
  ],
  [
    'groupNorm (vec4 and scalar), batchNorm (train)',
    (rng) => {
      const x = leaf(rng, [2, 32, 32, 16]),
        odd = leaf(rng, [2, 16, 5, 7]);
      const w = leaf(rng, [32]),
        b = leaf(rng, [32]),
        wo = leaf(rng, [16]),
        bo = leaf(rng, [16]);
      const rm = Tensor.zeros([32]),
        rv = Tensor.full([32], 1);
      const ys = backprop(rng, groupNorm(x, w, b, 32), groupNorm(odd, wo, bo, 4), batchNorm(x, w, b, rm, rv, { training: true }));
      return [...ys, x.grad!, odd.grad!, w.grad!, b.grad!, wo.grad!, bo.grad!, rm, rv];
    },
  ],
  [
    'groupNormRelu with and without residual (vec4 and scalar)',
    (rng) => {
      const x = leaf(rng, [2, 32, 32, 16]),
        r = leaf(rng, [2, 32, 32, 16]),
        odd = leaf(rng, [2, 16, 5, 7]),
        ro = leaf(rng, [2, 16, 5, 7]);
      const w = leaf(rng, [32]),
        b = leaf(rng, [32]),
        wo = leaf(rng, [16]),
        bo = leaf(rng, [16]);
      const ys = backprop(rng, groupNormRelu(x, w, b, 32, r), groupNormRelu(odd, wo, bo, 4, ro), groupNormRelu(x, w, b, 8));
      return [...ys, x.grad!, r.grad!, odd.grad!, ro.grad!, w.grad!, b.grad!, wo.grad!, bo.grad!];
    },
  ],
  [
    'groupNorm and groupNormRelu on the slab variants (forced; 64 slabs)',
    (rng) =>
      forceGroupNormPath('slab', () => {
        const x = leaf(rng, [2, 32, 32, 16]),
          r = leaf(rng, [2, 32, 32, 16]);
        const w = leaf(rng, [32]),
          b = leaf(rng, [32]);
        const ys = backprop(rng, groupNorm(x, w, b, 32), groupNormRelu(x, w, b, 32, r), groupNormRelu(x, w, b, 32));
        return [...ys, x.grad!, r.grad!, w.grad!, b.grad!];
      }),
  ],
  [
    'bicubicResize',
    (rng) => {
      const x = leaf(rng, [2, 32, 32, 16]);
      return [...backprop(rng, bicubicResize(x, [20, 24])), x.grad!];
    },
  ],
  [
    'softmax, logSoftmax, crossEntropy, klDivDistill, mseLoss, l1Loss',
    (rng) => {
      const s = leaf(rng, [40, 10]),
        t = leaf(rng, [40, 10], false);
      const a = leaf(rng, [2, 32, 32, 16]),
        b = leaf(rng, [2, 32, 32, 16], false);
      const labels = Array.from({ length: 40 }, (_, i) => i % 10);
      const parts = backprop(
        rng,
        softmax(s, 2),
        logSoftmax(s),
        crossEntropy(s, labels),
        klDivDistill(s, t, 2),
        mseLoss(a, b),
        l1Loss(a, b),
      );
      return [...parts, s.grad!, a.grad!];
    },
  ],
  [
    'conv2d 3x3 (row3 where subgroups exist) and 3x3 on rows of 37 (general), split-K, bias',
    (rng) => {
      const x = leaf(rng, [2, 64, 32, 32]),
        xg = leaf(rng, [2, 64, 20, 37]);
      const w = leaf(rng, [64, 64, 3, 3]),
        b = leaf(rng, [64]);
      const ys = backprop(rng, conv2d(x, w, b, { padding: 1 }), conv2d(xg, w, b, { padding: 1 }));
      return [...ys, x.grad!, xg.grad!, w.grad!, b.grad!];
    },
  ],
  [
    'Adam step',
    (rng) => {
      const p = leaf(rng, [32768]),
        q = leaf(rng, [32767]);
      p.grad = Tensor.from(rng.array(32768), [32768]);
      q.grad = Tensor.from(rng.array(32767), [32767]);
      new Adam([p, q], { lr: 1e-2, weightDecay: 1e-4 }).step();
      return [p, q];
    },
  ],
];

/** Run every case, read every output (as bits), return them with the dispatches seen. */
async function runAll(): Promise<{ outputs: Map<string, Uint32Array[]>; dispatches: DispatchInfo[] }> {
  const dispatches: DispatchInfo[] = [];
  const rt = runtime();
  rt.observer = { beginDispatch: (d) => void dispatches.push(d) };
  const outputs = new Map<string, Uint32Array[]>();
  try {
    for (const [name, run] of CASES) {
      const kept = tidy(() => run(new Rng(5)).map((t) => t.keep()));
      const bits: Uint32Array[] = [];
      for (const t of kept) bits.push(new Uint32Array(Float32Array.from(await t.read()).buffer));
      outputs.set(name, bits);
      for (const t of kept) t.dispose();
    }
  } finally {
    rt.observer = null;
  }
  return { outputs, dispatches };
}

let normal: Awaited<ReturnType<typeof runAll>>;
let folded: Awaited<ReturnType<typeof runAll>>;

test(`every op gives bit-identical results under a forced limit of ${LIMIT} workgroups per dimension`, async () => {
  normal = await runAll();
  const rt = runtime();
  const saved = rt.limits.maxComputeWorkgroupsPerDimension;
  rt.limits.maxComputeWorkgroupsPerDimension = LIMIT;
  try {
    folded = await runAll();
  } finally {
    rt.limits.maxComputeWorkgroupsPerDimension = saved;
  }
  for (const [name] of CASES) {
    const a = normal.outputs.get(name)!,
      b = folded.outputs.get(name)!;
    a.forEach((bits, k) => {
      const diff = bits.findIndex((v, i) => v !== b[k][i]);
      assert.is(diff, -1, `${name}: output ${k} differs at [${diff}] when folded`);
    });
  }
});

/** Every kernel body (a file with an entry point) whose code, includes expanded, calls linear_workgroup. */
function foldingFiles(): string[] {
  const root = new URL(KERNEL_DIR).pathname;
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
  const all = walk(root)
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => relative(root, f));
  // Bodies only: a file another file #includes (a snippet, or a shared body such as
  // loss/elementwise_loss.wgsl) is compiled as part of its includers.
  const included = new Set<string>();
  for (const f of all) for (const m of readFileSync(join(root, f), 'utf8').matchAll(/#include "([^"]+)"/g)) included.add(m[1]);
  return all
    .filter((f) => !included.has(f))
    .filter((f) => {
      const src = loadWgsl(f);
      return /@compute/.test(src) && /linear_workgroup\(/.test(src);
    });
}

test('every kernel file that folds ran folded (a y count > 1) under the forced limit', () => {
  // Bodies whose every variant needs a feature this adapter lacks (the row kernels' weight packing without subgroups) cannot run here.
  const caps = runtime().gpu.caps;
  const variants = Object.values(CONV2D_VARIANTS).flatMap((v) =>
    'file' in v ? [v as KernelVariant] : (Object.values(v) as KernelVariant[]),
  );
  const unusable = (f: string) =>
    variants.some((v) => v.file === f) &&
    variants
      .filter((v) => v.file === f)
      .every((v) => (v.features ?? []).some((x) => !caps[FEATURE_CAPS[x]] || !usableRowSharings().includes('subgroups')));
  const files = foldingFiles().filter((f) => !unusable(f));
  assert.ok(files.length >= 15, `found ${files.length} folding kernel files`);
  const foldedFiles = new Set(folded.dispatches.filter((d) => d.workgroups[1] > 1 && d.workgroups[2] === 1).map((d) => d.spec.file));
  // Kernels that are not in the model's ops (kept for their tests) are listed, not required: none today.
  const missing = files.filter((f) => !foldedFiles.has(f));
  assert.equal(missing, [], `folding kernels never run folded: ${missing.join(', ')}`);
  // And every dispatch of a folding kernel stayed within the forced limit.
  for (const d of folded.dispatches)
    assert.ok(
      d.workgroups.every((n) => n <= LIMIT),
      `${d.kernel} [${d.workgroups}]`,
    );
  console.log(
    `    ${files.length} folding kernel files, all run folded; ${folded.dispatches.filter((d) => d.workgroups[1] > 1).length} folded dispatches`,
  );
});

test.run();
