/**
 * rbd tune: measure which variant of each selection point (engine/variant_choice.ts) is fastest
 * on this adapter, for the geometry classes the model actually runs at the user's batch and
 * magnifications, and return the choices for the tune cache (bench/tune_cache.ts).
 *
 * 1. Classes: one distillation step (teacher forward at the top magnification, student forward,
 *    loss, backward, Adam; bench/profile.ts) per magnification, with a choice observer recording
 *    every (selection point, geometry class) the step meets and the first geometry of each.
 * 2. Per class, every candidate this adapter can run that fits the geometry:
 *    - validated against the float64 reference on a reduced geometry of the same shape
 *      (batch 1, fewer rows, same channels, kernel, stride, padding, row width), forced exactly
 *      as RBD_VARIANT forces it; a candidate that fails is skipped and reported;
 *    - timed on the class's geometry (cost: wall-clock ms, or on a software adapter this
 *      process's CPU ms, which other processes competing for the cores do not inflate): `warmup` untimed runs (the validation has compiled its
 *      pipelines already), then `reps` runs, each waited for (bench/harness.ts timeGpu); a candidate whose first timed run is over PRUNE_FACTOR times
 *      the best median so far is not timed further (reported 'pruned').
 * 3. The fastest candidate and the rule's are then timed again, interleaved (round-robin, same
 *    load), max(`reps`, FINAL_ROUNDS) rounds; the fastest is kept only where its median beats the rule's by
 *    `margin` (rbd tune: 10%), else the rule's candidate is written. So on any adapter the tuned
 *    choice is the rule's or one measured faster than it in the same run, and the report says
 *    both times.
 */
import { Tensor, disposeAll, tidy } from '../engine/tensor.ts';
import { Rng } from '../engine/random.ts';
import { runtime } from '../engine/runtime.ts';
import { TOL, type Tol } from '../engine/check.ts';
import {
  conv2dGeometry,
  conv2dForward,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  convOutputSize,
  type ConvGeometry,
} from '../engine/ops/conv2d.ts';
import { gemm, type GemmDims } from '../engine/ops/matmul.ts';
import { groupNormForwardPass, groupNormBackwardPass, type NormGeometry } from '../engine/ops/group_norm.ts';
import { conv2dRef, conv2dBackwardRef, type Shape4 } from '../engine/reference/conv2d.ts';
import { matmulRef } from '../engine/reference/matmul.ts';
import { groupNormForward, groupNormBackward } from '../engine/reference/group_norm.ts';
import { groupNormReluForward, groupNormReluBackward } from '../engine/reference/group_norm_act.ts';
import {
  observeChoices,
  selectionPoints,
  unusableReason,
  withForcedVariants,
  type AnySelectionPoint,
  type TunedChoices,
} from '../engine/variant_choice.ts';
import type { SpeedOptions } from './speed.ts';
import { distillSetup, distillPhases } from './profile.ts';
import { timeGpu, timeGpuRoundRobin, progress, type Timing } from './harness.ts';
import type { TuneClassReport, TuneMeasurement } from './tune_cache.ts';

/** A candidate whose first timed run exceeds this multiple of the best median so far is not timed further. */
export const PRUNE_FACTOR = 1.5;
/** Interleaved rounds (at least) of the final comparison between the fastest candidate and the rule's. */
export const FINAL_ROUNDS = 5;

export interface TuneOptions extends SpeedOptions {
  /** A candidate replaces the rule's only when its median is at least this fraction faster (0.1: 10%). */
  margin: number;
  /** Only selection points whose op contains this text. */
  only?: string;
  /** What a run costs: 'wall' ms, or 'cpu' ms of this process (default: cpu on a software adapter, else wall). */
  clock?: 'wall' | 'cpu';
  /** One line per finished class (the CLI prints it). */
  log?: (line: string) => void;
}

export interface TuneResult {
  choices: TunedChoices;
  report: TuneClassReport[];
}

interface Occurrence {
  point: AnySelectionPoint;
  cls: string;
  g: unknown;
  calls: number;
}

/** Every (selection point, class) one distillation step per magnification meets, with its first geometry. */
export async function modelClasses(o: Pick<TuneOptions, 'arch' | 'inputs' | 'batch' | 'seed'>): Promise<Occurrence[]> {
  const seen = new Map<string, Occurrence>();
  for (const m of o.inputs) {
    progress(`tune: collecting the geometry classes of a distillation step at ${m.mag}`);
    const d = distillSetup(o.arch, o.inputs[0], m, o.batch, o.seed);
    observeChoices((point, g) => {
      const cls = point.classOf(g);
      const key = `${point.op}|${cls}`;
      const hit = seen.get(key);
      if (hit) hit.calls++;
      else seen.set(key, { point, cls, g: structuredClone(g), calls: 1 });
    });
    try {
      tidy(() => {
        for (const [, run] of distillPhases(d)) run();
      });
      await runtime().sync();
    } finally {
      observeChoices(null);
      d.dispose();
    }
  }
  return [...seen.values()];
}

/** How the tuner runs one selection point: inputs for a geometry, one run, and a reference check. */
interface PointBench {
  /** Tensors for `g` and a run of the point's pass on them (under whatever forcing is in effect). */
  make(g: unknown, rng: Rng): { run: () => unknown; dispose: () => void };
  /**
   * A check on a reduced geometry of `g`'s shape: `check()` runs the pass (under the forcing in
   * effect) and returns its worst error / allowed against the float64 reference, which is
   * computed once per class, on the first check.
   */
  validation(g: unknown, rng: Rng): Validation;
  describe(g: unknown): string;
}

interface Validation {
  check(): Promise<number>;
  dispose(): void;
}

/** A Validation from: inputs uploaded once, a run, and the reference computed once (lazily). */
function validationOf(tensors: Tensor[], run: () => Tensor, reference: () => { expected: Float64Array; tol: Tol }): Validation {
  let ref: { expected: Float64Array; tol: Tol } | null = null;
  return {
    async check() {
      const out = run();
      const got = await out.read();
      out.dispose();
      ref ??= reference();
      return worstRatio(got, ref.expected, ref.tol);
    },
    dispose: () => disposeAll(tensors),
  };
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const f32 = (v: Float64Array) => Float64Array.from(Float32Array.from(v));

/** max |a - e| / (atol + rtol |e|) over the elements (Infinity for NaN): at most 1 when close enough. */
export function worstRatio(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / (tol.atol + tol.rtol * Math.abs(expected[i]));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}

/** The same convolution on batch 1 with at most a few output rows (same channels, kernel, stride, padding and row width). */
function reducedConv(g: ConvGeometry): ConvGeometry {
  let H = g.H;
  for (const h of [g.dil_h * (g.KH - 1) + 1 + 3 * g.stride_h, g.dil_h * (g.KH - 1) + 1 + g.stride_h]) {
    if (h < H && convOutputSize(h, g.KH, g.stride_h, g.pad_h, g.dil_h) >= 1) H = h;
  }
  return tidy(() =>
    conv2dGeometry(Tensor.empty([1, g.C, H, g.W]), Tensor.empty([g.O, g.C, g.KH, g.KW]), null, {
      stride: [g.stride_h, g.stride_w],
      padding: [g.pad_h, g.pad_w],
      dilation: [g.dil_h, g.dil_w],
    }),
  );
}

function convBench(pass: 'forward' | 'backwardInput' | 'backwardWeight'): PointBench {
  const run = (g: ConvGeometry, x: Tensor, w: Tensor, dy: Tensor) =>
    pass === 'forward'
      ? conv2dForward(x, w, null, g)
      : pass === 'backwardInput'
        ? conv2dBackwardInput(dy, w, g)
        : conv2dBackwardWeight(x, dy, g);
  return {
    describe: (geom) => {
      const g = geom as ConvGeometry;
      return `x=[${g.batch},${g.C},${g.H},${g.W}] w=[${g.O},${g.C},${g.KH},${g.KW}] s${g.stride_h} p${g.pad_h}`;
    },
    make(geom, rng) {
      const g = geom as ConvGeometry;
      const x = Tensor.from(rng.array(g.batch * g.C * g.H * g.W), [g.batch, g.C, g.H, g.W]).keep();
      const w = Tensor.from(rng.array(g.O * g.C * g.KH * g.KW), [g.O, g.C, g.KH, g.KW]).keep();
      const dy = Tensor.from(rng.array(g.batch * g.O * g.OH * g.OW), [g.batch, g.O, g.OH, g.OW]).keep();
      return { run: () => run(g, x, w, dy), dispose: () => disposeAll([x, w, dy]) };
    },
    validation(geom, rng) {
      const g = reducedConv(geom as ConvGeometry);
      const xs: Shape4 = [g.batch, g.C, g.H, g.W],
        ws: Shape4 = [g.O, g.C, g.KH, g.KW];
      const p = { stride: [g.stride_h, g.stride_w], padding: [g.pad_h, g.pad_w], dilation: [g.dil_h, g.dil_w] } as {
        stride: [number, number];
        padding: [number, number];
        dilation: [number, number];
      };
      // float32-exact inputs, weights scaled by 1/sqrt(fan-in): the premise of TOL.forLength.
      const x = f32(rng.array(size(xs))),
        w = f32(rng.array(size(ws), () => rng.uniform(-1, 1) / Math.sqrt(g.C * g.KH * g.KW)));
      const dy = f32(rng.array(g.batch * g.O * g.OH * g.OW));
      const xt = Tensor.from(x, xs).keep(),
        wt = Tensor.from(w, ws).keep(),
        dyt = Tensor.from(dy, [g.batch, g.O, g.OH, g.OW]).keep();
      return validationOf(
        [xt, wt, dyt],
        () => run(g, xt, wt, dyt),
        () => {
          if (pass === 'forward') return { expected: conv2dRef(x, xs, w, ws, null, p).y, tol: TOL.forLength(g.C * g.KH * g.KW) };
          const ref = conv2dBackwardRef(x, xs, w, ws, dy, p);
          return pass === 'backwardInput'
            ? { expected: ref.dx, tol: TOL.forLength(g.O * g.KH * g.KW) }
            : { expected: ref.dw, tol: TOL.forLength(g.batch * g.OH * g.OW) };
        },
      );
    },
  };
}

const matmulBench: PointBench = {
  describe: (geom) => {
    const { M, N, K } = geom as GemmDims;
    return `[${M},${K}]x[${K},${N}]`;
  },
  make(geom, rng) {
    const { M, N, K } = geom as GemmDims;
    const a = Tensor.from(rng.array(M * K), [M, K]).keep(),
      b = Tensor.from(rng.array(K * N), [K, N]).keep();
    return { run: () => gemm({ t: a }, { t: b }), dispose: () => disposeAll([a, b]) };
  },
  validation(geom, rng) {
    const d = geom as GemmDims;
    // Rows of a matmul are independent: at most 64 of them say as much as all.
    const M = Math.min(d.M, 64),
      { N, K } = d;
    const a = f32(rng.array(M * K)),
      b = f32(rng.array(K * N, () => rng.uniform(-1, 1) / Math.sqrt(K)));
    const at = Tensor.from(a, [M, K]).keep(),
      bt = Tensor.from(b, [K, N]).keep();
    return validationOf(
      [at, bt],
      () => gemm({ t: at }, { t: bt }),
      () => ({ expected: matmulRef(a, b, M, K, N), tol: TOL.forLength(K) }),
    );
  },
};

/** Group-norm inputs for a geometry: x, weight, bias, residual (addRelu), dy. */
function normInputs(g: NormGeometry, rng: Rng) {
  const shape = [g.n, g.c, g.h, g.w];
  const n = size(shape);
  return {
    shape,
    x: f32(rng.array(n, () => rng.uniform(-2, 3))),
    weight: f32(rng.array(g.c, () => rng.uniform(0.5, 1.5))),
    bias: f32(rng.array(g.c, () => rng.uniform(-0.5, 0.5))),
    residual: g.epilogue === 'addRelu' ? f32(rng.array(n)) : null,
    dy: f32(rng.array(n)),
  };
}

function normBench(pass: 'forward' | 'channelSums' | 'backwardInput'): PointBench {
  const upload = (g: NormGeometry, d: ReturnType<typeof normInputs>) => ({
    x: Tensor.from(d.x, d.shape).keep(),
    weight: Tensor.from(d.weight, [g.c]).keep(),
    bias: Tensor.from(d.bias, [g.c]).keep(),
    residual: d.residual ? Tensor.from(d.residual, d.shape).keep() : null,
    dy: Tensor.from(d.dy, d.shape).keep(),
  });
  type Uploaded = ReturnType<typeof upload>;
  const eps = 1e-5;
  /** The pass: forward -> y; channelSums -> the backward without dx (sums, dz); backwardInput -> dx. */
  const run = (g: NormGeometry, t: Uploaded): Tensor => {
    const { y, stats } = groupNormForwardPass(g.epilogue, t.x, t.weight, t.bias, t.residual, g.groups, eps);
    if (pass === 'forward') {
      stats.dispose();
      return y;
    }
    const b = groupNormBackwardPass(g.epilogue, t.dy, t.x, t.weight, stats, y, g.groups, eps, {
      dx: pass === 'backwardInput',
      params: pass === 'channelSums',
    });
    stats.dispose();
    y.dispose();
    b.dz?.dispose();
    b.dbias?.dispose();
    if (pass === 'backwardInput') return b.dx!;
    return b.dweight!;
  };
  return {
    describe: (geom) => {
      const g = geom as NormGeometry;
      return `[${g.n},${g.c},${g.h},${g.w}] G${g.groups} ${g.epilogue}`;
    },
    make(geom, rng) {
      const g = geom as NormGeometry;
      const t = upload(g, normInputs(g, rng));
      return { run: () => run(g, t), dispose: () => disposeAll(Object.values(t).filter((v): v is Tensor => v !== null)) };
    },
    validation(geom, rng) {
      const full = geom as NormGeometry;
      const g: NormGeometry = { ...full, n: 1, slabs: full.groups, planes: full.c };
      const d = normInputs(g, rng);
      const t = upload(g, d);
      const s = { n: g.n, c: g.c, h: g.h, w: g.w, groups: g.groups, eps };
      return validationOf(
        Object.values(t).filter((v): v is Tensor => v !== null),
        () => run(g, t),
        () => {
          const tol = TOL.forLength(Math.max((g.c / g.groups) * g.h * g.w, g.n * g.h * g.w));
          const relu = g.epilogue !== 'none';
          if (pass === 'forward')
            return {
              expected: relu ? groupNormReluForward(d.x, d.weight, d.bias, d.residual, s) : groupNormForward(d.x, d.weight, d.bias, s),
              tol,
            };
          const ref = relu ? groupNormReluBackward(d.x, d.weight, d.bias, d.residual, d.dy, s) : groupNormBackward(d.x, d.weight, d.dy, s);
          return { expected: pass === 'backwardInput' ? ref.dx : ref.dweight, tol };
        },
      );
    },
  };
}

/** The tuner's runner per selection point; a point not listed here is reported and left to its rule. */
const BENCHES: Record<string, PointBench> = {
  'conv2d.forward': convBench('forward'),
  'conv2d.backwardInput': convBench('backwardInput'),
  'conv2d.backwardWeight': convBench('backwardWeight'),
  matmul: matmulBench,
  'groupNorm.forward': normBench('forward'),
  'groupNorm.channelSums': normBench('channelSums'),
  'groupNorm.backwardInput': normBench('backwardInput'),
};

/** Tune every class the model meets; see the file comment. */
export async function runTune(o: TuneOptions): Promise<TuneResult> {
  const log = o.log ?? (() => {});
  const occurrences = (await modelClasses(o)).filter((c) => !o.only || c.point.op.includes(o.only));
  const missing = selectionPoints().filter((p) => !BENCHES[p.op] && occurrences.some((c) => c.point === p));
  for (const p of missing) log(`${p.op}: the tuner has no runner for it; its rule chooses`);
  const work = occurrences.filter((c) => BENCHES[c.point.op]);
  const choices: TunedChoices = {};
  const report: TuneClassReport[] = [];
  // On a software adapter the GPU is this process's threads: CPU time measures a kernel's cost
  // even while other processes compete for the cores (wall time does not; bench/harness.ts).
  const clock = o.clock ?? (runtime().gpu.adapter.isSoftware ? 'cpu' : 'wall');
  const cost = (t: Timing) => (clock === 'cpu' ? t.cpuMs : t.ms);
  const rng = new Rng(o.seed + 17);
  for (const [i, occ] of work.entries()) {
    const { point, cls, g } = occ;
    const bench = BENCHES[point.op];
    const where = `[${i + 1}/${work.length}] ${point.op} ${bench.describe(g)}`;
    const rule = point.rule(g) as string;
    const candidates = point.candidates.filter((c) => unusableReason(c) === null && (!c.fits || c.fits(g)));
    const measurements: TuneMeasurement[] = [];
    const inputs = bench.make(g, rng);
    const validation = bench.validation(g, rng);
    let best: { name: string; ms: number } | null = null;
    try {
      for (const [j, c] of candidates.entries()) {
        progress(`tune ${where}: ${c.name} (${j + 1}/${candidates.length})`);
        const forced = { [point.op]: c.name };
        let ratio: number;
        try {
          ratio = await withForcedVariants(forced, () => validation.check());
        } catch (e) {
          measurements.push({ candidate: c.name, ms: null, status: 'failed', detail: (e as Error).message.split('\n')[0] });
          continue;
        }
        if (!(ratio <= 1)) {
          measurements.push({ candidate: c.name, ms: null, status: 'failed', detail: `worst error ${ratio.toFixed(2)}x the allowed` });
          continue;
        }
        const runForced = () => withForcedVariants(forced, inputs.run);
        const first = await timeGpu(runForced, 1, o.warmup);
        if (best && cost(first) > PRUNE_FACTOR * best.ms) {
          measurements.push({ candidate: c.name, ms: cost(first), status: 'pruned', detail: `first run over ${PRUNE_FACTOR}x the best` });
          continue;
        }
        // The mean of the first run and the median of the others.
        const rest = o.reps > 1 ? await timeGpu(runForced, o.reps - 1, 0) : null;
        const ms = rest ? (cost(first) + (o.reps - 1) * cost(rest)) / o.reps : cost(first);
        measurements.push({ candidate: c.name, ms, status: 'timed' });
        if (!best || ms < best.ms) best = { name: c.name, ms };
      }
      // The rule's candidate and the fastest, interleaved under the same load.
      let chosen = rule,
        ruleMs = measurements.find((m) => m.candidate === rule)?.ms ?? NaN,
        chosenMs = ruleMs;
      const ruleOk = measurements.some((m) => m.candidate === rule && m.status !== 'failed');
      if (best && best.name !== rule && ruleOk) {
        progress(`tune ${where}: ${best.name} against the rule's ${rule}, interleaved`);
        const [tr, tb] = await timeGpuRoundRobin(
          [() => withForcedVariants({ [point.op]: rule }, inputs.run), () => withForcedVariants({ [point.op]: best!.name }, inputs.run)],
          Math.max(o.reps, FINAL_ROUNDS),
          0,
        );
        ruleMs = cost(tr);
        chosenMs = cost(tb);
        if (chosenMs < (1 - o.margin) * ruleMs) chosen = best.name;
        else chosenMs = ruleMs;
      }
      if (!ruleOk) log(`${where}: the rule's ${rule} failed validation; kept it as the choice (the rules are what runs without a cache)`);
      (choices[point.op] ??= {})[cls] = chosen;
      const failed = measurements.filter((m) => m.status === 'failed');
      report.push({ op: point.op, class: cls, geometry: bench.describe(g), rule, chosen, ruleMs, chosenMs, clock, measurements });
      log(
        `${where}: ${chosen === rule ? `rule's ${rule} kept` : `${chosen} (rule ${rule})`}, ${chosenMs.toFixed(2)} vs ${ruleMs.toFixed(2)} ${clock} ms; ` +
          `${measurements.filter((m) => m.status === 'timed').length} timed, ${measurements.filter((m) => m.status === 'pruned').length} pruned` +
          (failed.length ? `, ${failed.length} FAILED validation: ${failed.map((m) => `${m.candidate} (${m.detail})`).join('; ')}` : ''),
      );
    } finally {
      inputs.dispose();
      validation.dispose();
    }
  }
  progress('');
  return { choices, report };
}
