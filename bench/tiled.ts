/**
 * The workgroup-memory tiled GEMM kernels (engine/ops/gemm_shared.ts) against the kernels the ops
 * choose today, on the model's conv layer shapes (as bench/kernels.ts, batch 8) and a 512^3
 * matmul: every pair timed in one run, repetitions interleaved (timeGpuRoundRobin), so the ratio
 * tiled / current is measured under the same load. FLOPs: 2 per multiply-add (2*M*N*K; a conv
 * pass = 2*N*O*OH*OW*C*KH*KW). The tiled kernels run at the size and split their defaults pick
 * for this adapter. Correctness is the tests' (test/ops/*_tiled.test.ts).
 *
 * Usage: node --import tsx bench/tiled.ts [reps=3] [warmup=1]
 */
import { Tensor } from '../engine/tensor.ts';
import { Rng } from '../engine/random.ts';
import { initRuntime, closeRuntime } from '../engine/runtime.ts';
import {
  conv2dGeometry,
  conv2dForward,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForwardTiled,
  conv2dBackwardInputTiled,
  conv2dBackwardWeightTiled,
  conv2dBackwardWeightTiledSplits,
} from '../engine/ops/conv2d.ts';
import { gemm, gemmTiled } from '../engine/ops/matmul.ts';
import { tiledSize } from '../engine/ops/gemm_shared.ts';
import { timeGpuRoundRobin, progress } from './harness.ts';

const CASES: {
  label: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: number;
  padding: number;
}[] = [
  { label: 'stem 7x7 s2', x: [8, 3, 128, 128], w: [32, 3, 7, 7], stride: 2, padding: 3 },
  { label: '3x3 32ch', x: [8, 32, 64, 64], w: [32, 32, 3, 3], stride: 1, padding: 1 },
  { label: '3x3 64ch', x: [8, 64, 32, 32], w: [64, 64, 3, 3], stride: 1, padding: 1 },
  { label: '3x3 128ch', x: [8, 128, 16, 16], w: [128, 128, 3, 3], stride: 1, padding: 1 },
  { label: '3x3 256ch', x: [8, 256, 8, 8], w: [256, 256, 3, 3], stride: 1, padding: 1 },
];

async function main() {
  const reps = Number(process.argv[2] ?? 3);
  const warmup = Number(process.argv[3] ?? 1);
  const rt = await initRuntime();
  const rng = new Rng(1);
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const pairs: { label: string; flops: number; current: () => Tensor; tiled: () => Tensor }[] = [];
  const inputs: Tensor[] = [];
  for (const c of CASES) {
    const x = Tensor.from(rng.array(size(c.x)), c.x),
      w = Tensor.from(rng.array(size(c.w)), c.w);
    const g = conv2dGeometry(x, w, null, { stride: c.stride, padding: c.padding });
    const dy = Tensor.from(rng.array(g.batch * g.O * g.OH * g.OW), [g.batch, g.O, g.OH, g.OW]);
    inputs.push(x, w, dy);
    const flops = 2 * g.batch * g.O * g.OH * g.OW * g.C * g.KH * g.KW;
    const fwd = tiledSize(g.O, g.batch * g.OH * g.OW),
      bwi = tiledSize(g.C, g.batch * g.H * g.W),
      bww = tiledSize(g.O, g.C * g.KH * g.KW);
    pairs.push({
      label: `conv2dForward ${c.label} (tiled ${fwd})`,
      flops,
      current: () => conv2dForward(x, w, null, g),
      tiled: () => conv2dForwardTiled(x, w, null, g),
    });
    pairs.push({
      label: `conv2dBackwardInput ${c.label} (tiled ${bwi})`,
      flops,
      current: () => conv2dBackwardInput(dy, w, g),
      tiled: () => conv2dBackwardInputTiled(dy, w, g),
    });
    pairs.push({
      label: `conv2dBackwardWeight ${c.label} (tiled ${bww}, ${conv2dBackwardWeightTiledSplits(g)} splits)`,
      flops,
      current: () => conv2dBackwardWeight(x, dy, g),
      tiled: () => conv2dBackwardWeightTiled(x, dy, g),
    });
  }
  const n = 512;
  const a = Tensor.from(rng.array(n * n), [n, n]),
    b = Tensor.from(rng.array(n * n), [n, n]);
  inputs.push(a, b);
  pairs.push({
    label: `matmul ${n}^3 (tiled ${tiledSize(n, n)})`,
    flops: 2 * n ** 3,
    current: () => gemm({ t: a }, { t: b }),
    tiled: () => gemmTiled({ t: a }, { t: b }),
  });

  console.log(`adapter: ${rt.gpu.adapter.name} (${rt.gpu.adapter.backend}); ${reps} interleaved rounds after ${warmup} warm-up`);
  console.log('pass'.padEnd(66) + 'current ms  GFLOP/s   tiled ms  GFLOP/s   tiled/current time');
  for (const p of pairs) {
    progress(`timing ${p.label}`);
    const [cur, til] = await timeGpuRoundRobin([p.current, p.tiled], reps, warmup);
    progress('');
    const gf = (ms: number) => (p.flops / ms / 1e6).toFixed(2);
    console.log(
      `${p.label.padEnd(66)}${cur.ms.toFixed(1).padStart(10)}${gf(cur.ms).padStart(9)}${til.ms.toFixed(1).padStart(11)}${gf(til.ms).padStart(9)}${(til.ms / cur.ms).toFixed(2).padStart(12)}x`,
    );
  }
  for (const t of inputs) t.dispose();
  await closeRuntime();
}
main();
