/**
 * One distillation training step, broken down per phase, per op and per kernel, with FLOPs
 * from the model counter and a Chrome trace-event file that Perfetto (ui.perfetto.dev) and
 * chrome://tracing open.
 *
 * The step is `distillPhases` below (teacher forward, student forward, loss, backward, optimizer
 * step; bench speed times the same phases), run after `warmup` untimed steps with engine/profiler.ts attached.
 * Each layer's forward is wrapped in a profiler scope, so forward dispatches also carry their
 * layer's dotted name. Times are GPU times from timestamp queries where the adapter has them,
 * otherwise synchronized wall-clock times per phase only (the result's `clock` says which).
 *
 * FLOPs come from the ops themselves where they state them: the GEMM ops (conv2d, matmul,
 * linear) give each dispatch's FLOPs (engine/runtime.ts DispatchInfo.flops), so every conv pass
 * counts for its (phase, op) and for the kernel variant that ran it. Other ops' FLOPs per
 * (phase, op) come from models/flops.ts by layer kind (groupNorm -> norm, relu, ...): teacher
 * forward = the teacher's forward counts at its input, student forward and backward = the
 * student's; a kernel whose dispatches state none gets its op's counted FLOPs only when it is
 * the sole kernel of its (phase, op). Ops the counter does
 * not count (the loss, the optimizer, gradient accumulation) have no FLOPs.
 */
import { Tensor, tidy, disposeAll } from '../engine/tensor.ts';
import { Rng } from '../engine/random.ts';
import { noGrad, backward } from '../engine/autograd.ts';
import { Adam } from '../engine/optim/adam.ts';
import { ResNet, type ResNetOutput } from '../models/resnet.ts';
import { distillLoss, DEFAULT_DISTILL_LOSS } from '../train/distill_loss.ts';
import { runtime } from '../engine/runtime.ts';
import { Profiler, type ProfileResult, type ProfileClock, type DispatchTiming } from '../engine/profiler.ts';
import type { Module, Layer } from '../models/module.ts';
import { GroupNorm } from '../models/layers.ts';
import { countFlops, type FlopReport, type LayerKind } from '../models/flops.ts';
import type { ResNetArch } from '../models/arch.ts';
import { distillStepFlops, type MagInput } from './flops.ts';
import { progress } from './harness.ts';
import { textTable, numericColumns, fmtNum, fmtPercent } from '../util/table.ts';

/** A distillation setup: frozen teacher, student, optimizer, and one batch at both sizes. */
export interface DistillSetup {
  teacher: ResNet;
  student: ResNet;
  optimizer: Adam;
  /** [N,3,top,top]: what the teacher sees. */
  highRes: Tensor;
  /** [N,3,s,s]: the same tiles at the student's magnification. */
  lowRes: Tensor;
  dispose(): void;
}

export function distillSetup(arch: ResNetArch, top: MagInput, student: MagInput, batch: number, seed: number): DistillSetup {
  const rng = new Rng(seed);
  const teacher = new ResNet(arch, seed).eval();
  const s = new ResNet(arch, seed + 1);
  const image = (size: [number, number]) =>
    Tensor.from(rng.array(batch * arch.inChannels * size[0] * size[1]), [batch, arch.inChannels, ...size]).keep();
  const setup: DistillSetup = {
    teacher,
    student: s,
    optimizer: new Adam(s.parameters(), { lr: 1e-3, weightDecay: 1e-4 }),
    highRes: image(top.size),
    lowRes: image(student.size),
    dispose() {
      setup.highRes.dispose();
      setup.lowRes.dispose();
      teacher.dispose();
      s.dispose();
    },
  };
  return setup;
}

/** The phases of one distillation step, in order; each returns what later phases need. */
export type Phase = [name: string, run: () => unknown];

/** The teacher's outputs of a setup's batch, read back to the CPU: what a teacher-target cache holds. */
export interface CachedTeacherOutputs {
  logits: Float32Array;
  logitsShape: number[];
  features: Float32Array;
  featuresShape: number[];
}

export async function cacheTeacherOutputs(d: DistillSetup): Promise<CachedTeacherOutputs> {
  const out = noGrad(() => d.teacher.forward(d.highRes));
  try {
    return {
      logits: (await out.logits.read()) as Float32Array,
      logitsShape: [...out.logits.shape],
      features: (await out.features.read()) as Float32Array,
      featuresShape: [...out.features.shape],
    };
  } finally {
    out.logits.dispose();
    out.features.dispose();
  }
}

/**
 * One distillation training step as named phases (run them in order, synchronously or with a
 * GPU sync between them): teacher forward (noGrad), student forward, loss, backward, optimizer.
 * With `cached` (train/teacher_cache.ts), the first phase uploads the teacher's cached outputs
 * instead of running the teacher, as distillation with the cache does.
 */
export function distillPhases(d: DistillSetup, cached?: CachedTeacherOutputs): Phase[] {
  let teacherOut: ResNetOutput | null = null;
  let studentOut: ResNetOutput | null = null;
  let loss: Tensor | null = null;
  const upload = (c: CachedTeacherOutputs): ResNetOutput => ({
    logits: Tensor.from(c.logits, c.logitsShape),
    features: Tensor.from(c.features, c.featuresShape),
  });
  return [
    cached
      ? ['teacher targets (cached)', () => (teacherOut = upload(cached))]
      : ['teacher forward', () => (teacherOut = noGrad(() => d.teacher.forward(d.highRes)))],
    ['student forward', () => (studentOut = d.student.forward(d.lowRes))],
    ['loss', () => (loss = distillLoss(studentOut!, teacherOut!, DEFAULT_DISTILL_LOSS).loss)],
    ['backward', () => backward(loss!)],
    [
      'optimizer step',
      () => {
        d.optimizer.step();
        d.optimizer.zeroGrad();
      },
    ],
  ];
}

/** Which counter layer kind an op (its name in engine/runtime.ts opScope) implements. */
const OP_KIND: Record<string, LayerKind> = {
  conv2d: 'conv',
  groupNorm: 'norm',
  batchNorm: 'norm',
  relu: 'relu',
  maxPool2d: 'maxpool',
  adaptiveAvgPool2d: 'avgpool',
  add: 'add',
  linear: 'linear',
};

export interface OpProfile {
  phase: string;
  op: string;
  dispatches: number;
  /** Summed GPU time of its dispatches, ms (null on the wall clock). */
  gpuMs: number | null;
  /** Share of the step's summed GPU time. */
  share: number | null;
  /** Counted FLOPs (null: not counted by the model counter). */
  flops: number | null;
  gflops: number | null;
}

export interface KernelProfile {
  kernel: string;
  dispatches: number;
  gpuMs: number | null;
  share: number | null;
  flops: number | null;
  gflops: number | null;
}

export interface PhaseProfile {
  name: string;
  wallMs: number;
  gpuMs: number | null;
  dispatches: number;
}

export interface StepProfile {
  clock: ProfileClock;
  teacherInput: number[];
  studentInput: number[];
  batch: number;
  /** Sum of the phases' synchronized wall-clock times, ms. */
  wallMs: number;
  /** Sum of all dispatches' GPU times, ms (null on the wall clock). */
  gpuBusyMs: number | null;
  /** First dispatch start to last dispatch end, ms, within phases (null on the wall clock). */
  gpuSpanMs: number | null;
  /** Counted FLOPs of the step (teacher forward + student forward + backward). */
  stepFlops: number;
  phases: PhaseProfile[];
  ops: OpProfile[];
  kernels: KernelProfile[];
  dispatches: DispatchTiming[];
}

/** Run `fn` with every layer of `model` wrapped in a profiler scope named after it. */
function withLayerScopes<T>(profiler: Profiler, models: [string, Module][], fn: () => Promise<T>): Promise<T> {
  const wrapped: Layer[] = [];
  const visit = (prefix: string, m: Module) => {
    for (const [name, child] of m.namedChildren()) {
      const full = `${prefix}.${name}`;
      if ('forward' in child && typeof (child as Layer).forward === 'function') {
        const layer = child as Layer;
        const original = layer.forward;
        // An own property shadows the class method for this instance only; deleted afterwards.
        layer.forward = (x) => profiler.scope(full, () => original.call(layer, x));
        wrapped.push(layer);
        // GroupNorm's fused norm -> (add ->) ReLU (models/layers.ts) is scoped as the norm layer.
        if (layer instanceof GroupNorm) {
          const fused = layer.forwardRelu;
          layer.forwardRelu = (x, r) => profiler.scope(full, () => fused.call(layer, x, r));
        }
      }
      visit(full, child);
    }
  };
  for (const [name, m] of models) visit(name, m);
  return fn().finally(() => {
    for (const l of wrapped) {
      delete (l as unknown as Record<string, unknown>).forward;
      delete (l as unknown as Record<string, unknown>).forwardRelu;
    }
  });
}

/** FLOPs of (phase, op) from the counter, or null where the counter has none for it. */
function opFlops(phase: string, op: string, teacher: FlopReport, student: FlopReport): number | null {
  const kind = OP_KIND[op];
  if (!kind) return null;
  const v =
    phase === 'teacher forward'
      ? teacher.byKind[kind].forward
      : phase === 'student forward'
        ? student.byKind[kind].forward
        : phase === 'backward'
          ? student.byKind[kind].backward
          : 0;
  return v > 0 ? v : null;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Items grouped by key, groups in order of first appearance. */
function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const g = m.get(k);
    if (g) g.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/** Aggregate a profiler result into per-phase, per-op and per-kernel tables. */
export function summarizeProfile(p: ProfileResult, teacher: FlopReport, student: FlopReport, batch: number): StepProfile {
  const timed = p.clock === 'timestamp-query';
  const ms = (ds: DispatchTiming[]) => (timed ? sum(ds.map((d) => d.durUs ?? 0)) / 1000 : null);
  const busy = ms(p.dispatches);
  const share = (v: number | null) => (v !== null && busy ? v / busy : null);
  const rate = (flops: number | null, t: number | null) => (flops !== null && t ? flops / (t / 1000) / 1e9 : null);

  const groups = groupBy(p.dispatches, (d) => `${d.phase}\u0000${d.op}`);
  const ops: OpProfile[] = [...groups.values()].map((ds) => {
    const t = ms(ds);
    // The FLOPs the op's dispatches state (the GEMM ops), else the counter's for its layer kind.
    const stated = ds.filter((d) => d.flops !== undefined);
    const flops = stated.length ? sum(stated.map((d) => d.flops!)) : opFlops(ds[0].phase, ds[0].op, teacher, student);
    return { phase: ds[0].phase, op: ds[0].op, dispatches: ds.length, gpuMs: t, share: share(t), flops, gflops: rate(flops, t) };
  });

  const byKernel = groupBy(p.dispatches, (d) => d.kernel);
  const kernels: KernelProfile[] = [...byKernel.entries()].map(([kernel, ds]) => {
    const t = ms(ds);
    const stated = ds.filter((d) => d.flops !== undefined);
    let flops: number | null = stated.length ? sum(stated.map((d) => d.flops!)) : null;
    if (flops === null) {
      // A kernel gets its op's FLOPs only when it is the op's only kernel in every phase it runs in.
      const owners = ops.filter((o) => ds.some((d) => d.phase === o.phase && d.op === o.op));
      const sole = owners.every((o) => p.dispatches.every((d) => d.phase !== o.phase || d.op !== o.op || d.kernel === kernel));
      if (sole && owners.every((o) => o.flops !== null)) flops = sum(owners.map((o) => o.flops!));
    }
    return { kernel, dispatches: ds.length, gpuMs: t, share: share(t), flops, gflops: rate(flops, t) };
  });
  kernels.sort((a, b) => (b.gpuMs ?? 0) - (a.gpuMs ?? 0) || b.dispatches - a.dispatches);

  const phases: PhaseProfile[] = p.phases.map((ph) => ({
    name: ph.name,
    wallMs: ph.wallMs,
    dispatches: ph.dispatches,
    gpuMs: ms(p.dispatches.filter((d) => d.phase === ph.name)),
  }));
  let span: number | null = null;
  if (timed && p.dispatches.length) {
    const start = Math.min(...p.dispatches.map((d) => d.startUs!));
    const end = Math.max(...p.dispatches.map((d) => d.startUs! + d.durUs!));
    span = (end - start) / 1000;
  }
  return {
    clock: p.clock,
    teacherInput: teacher.input,
    studentInput: student.input,
    batch,
    wallMs: sum(p.phases.map((ph) => ph.wallMs)),
    gpuBusyMs: busy,
    gpuSpanMs: span,
    stepFlops: distillStepFlops(teacher, student),
    phases,
    ops,
    kernels,
    dispatches: p.dispatches,
  };
}

export interface ProfileOptions {
  arch: ResNetArch;
  /** [teacher input, student input]. */
  inputs: [MagInput, MagInput];
  batch: number;
  seed: number;
  /** Untimed steps first, so pipelines are compiled and the buffer pool is warm (default 1). */
  warmup?: number;
  /** false: the wall clock even where timestamp queries exist. */
  timestamps?: boolean;
}

/** Profile one distillation step. */
export async function profileStep(o: ProfileOptions): Promise<StepProfile> {
  const rt = runtime();
  const [top, low] = o.inputs;
  const d = distillSetup(o.arch, top, low, o.batch, o.seed);
  try {
    for (let i = 0; i < (o.warmup ?? 1); i++) {
      progress(`profile: warm-up step ${i + 1}`);
      tidy(() => {
        for (const [, run] of distillPhases(d)) run();
      });
      await rt.sync();
    }
    progress('profile: profiled step');
    const profiler = new Profiler(rt, { timestamps: o.timestamps });
    const result = await withLayerScopes(
      profiler,
      [
        ['teacher', d.teacher],
        ['student', d.student],
      ],
      async () => {
        profiler.attach();
        const kept: unknown[] = [];
        try {
          for (const [name, run] of distillPhases(d)) kept.push(await profiler.phase(name, () => tidy(run)));
        } finally {
          profiler.detach();
          disposeAll(kept);
        }
        return profiler.finish();
      },
    );
    progress('');
    return summarizeProfile(
      result,
      countFlops(o.arch, top.size, { batch: o.batch }),
      countFlops(o.arch, low.size, { batch: o.batch }),
      o.batch,
    );
  } finally {
    d.dispose();
  }
}

/** A Chrome trace event ('X' = complete event with a duration; 'M' = metadata). */
export interface TraceEvent {
  name: string;
  cat?: string;
  ph: 'X' | 'M';
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

export interface TraceFile {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: Record<string, unknown>;
}

/** The trace levels, outermost first: each event lies inside one event of the level above. */
export const TRACE_LEVELS = ['step', 'phase', 'op', 'kernel'] as const;

/**
 * Chrome trace-event JSON (object form) of a step profile. With GPU timestamps: one thread
 * 'GPU' holding the step, its phases, op runs (consecutive dispatches of one op in one phase)
 * and kernels, each spanning exactly its children, so they nest; and a thread 'CPU wall clock'
 * with the synchronized phase times laid end to end. On the wall clock, only the latter.
 * Times in microseconds.
 */
export function toTrace(s: StepProfile, otherData: Record<string, unknown>): TraceFile {
  const pid = 1,
    gpu = 1,
    cpu = 2;
  const ev: TraceEvent[] = [
    { name: 'process_name', ph: 'M', pid, tid: gpu, args: { name: `rbd distillation step (batch ${s.batch})` } },
    { name: 'thread_name', ph: 'M', pid, tid: gpu, args: { name: 'GPU (timestamp queries)' } },
    { name: 'thread_name', ph: 'M', pid, tid: cpu, args: { name: 'CPU wall clock (GPU synchronized per phase)' } },
  ];
  const span = (ds: DispatchTiming[]) => {
    const start = Math.min(...ds.map((d) => d.startUs!));
    return { ts: start, dur: Math.max(...ds.map((d) => d.startUs! + d.durUs!)) - start };
  };
  if (s.clock === 'timestamp-query' && s.dispatches.length) {
    ev.push({
      name: 'distillation step',
      cat: 'step',
      ph: 'X',
      pid,
      tid: gpu,
      ...span(s.dispatches),
      args: { flops: s.stepFlops, dispatches: s.dispatches.length },
    });
    for (const ph of s.phases) {
      const ds = s.dispatches.filter((d) => d.phase === ph.name);
      if (ds.length)
        ev.push({ name: ph.name, cat: 'phase', ph: 'X', pid, tid: gpu, ...span(ds), args: { dispatches: ds.length, wallMs: ph.wallMs } });
    }
    // Op runs: maximal sequences of consecutive dispatches with the same phase and op.
    let run: DispatchTiming[] = [];
    const flush = () => {
      if (run.length)
        ev.push({
          name: run[0].op,
          cat: 'op',
          ph: 'X',
          pid,
          tid: gpu,
          ...span(run),
          args: { phase: run[0].phase, scope: run[0].scope, dispatches: run.length },
        });
      run = [];
    };
    for (const d of s.dispatches) {
      if (run.length && (run[0].phase !== d.phase || run[0].op !== d.op)) flush();
      run.push(d);
    }
    flush();
    for (const d of s.dispatches) {
      ev.push({
        name: d.kernel,
        cat: 'kernel',
        ph: 'X',
        pid,
        tid: gpu,
        ts: d.startUs!,
        dur: d.durUs!,
        args: { index: d.index, op: d.op, phase: d.phase, scope: d.scope, workgroups: d.workgroups },
      });
    }
  }
  let t = 0;
  for (const ph of s.phases) {
    ev.push({ name: ph.name, cat: 'phase', ph: 'X', pid, tid: cpu, ts: t, dur: ph.wallMs * 1000, args: { dispatches: ph.dispatches } });
    t += ph.wallMs * 1000;
  }
  return { traceEvents: ev, displayTimeUnit: 'ms', otherData: { clock: s.clock, ...otherData } };
}

const msCell = (v: number | null) => (v === null ? '-' : fmtNum(v));
const flopCell = (v: number | null) => (v === null ? '-' : fmtNum(v / 1e9, 4));

/** The printable tables: phases, ops (largest first), and the top `kernelRows` kernels. */
export function formatProfile(s: StepProfile, kernelRows = 20): string {
  const out: string[] = [];
  const clock =
    s.clock === 'timestamp-query'
      ? 'clock: GPU timestamp queries (one compute pass per dispatch)'
      : 'clock: synchronized wall clock per phase (this adapter has no timestamp-query: per-op and per-kernel times are not available, only dispatch counts)';
  out.push(clock);
  out.push(
    `teacher input [${s.teacherInput.join(',')}], student input [${s.studentInput.join(',')}]; counted step FLOPs ${fmtNum(s.stepFlops / 1e9, 4)} G`,
  );
  out.push(
    textTable(
      ['phase', 'wall ms', 'GPU ms', 'dispatches'],
      s.phases.map((p) => [p.name, fmtNum(p.wallMs), msCell(p.gpuMs), String(p.dispatches)]),
      numericColumns(4),
    ),
  );
  if (s.gpuBusyMs !== null && s.gpuSpanMs !== null) {
    out.push(
      `GPU busy ${fmtNum(s.gpuBusyMs)} ms of ${fmtNum(s.wallMs)} ms wall (${fmtPercent(s.gpuBusyMs / s.wallMs)}); ${s.dispatches.length} dispatches, ${fmtNum((1000 * s.gpuBusyMs) / Math.max(1, s.dispatches.length))} us GPU time per dispatch on average, ${fmtNum((1000 * (s.wallMs - s.gpuBusyMs)) / Math.max(1, s.dispatches.length))} us idle per dispatch`,
    );
    out.push(
      `achieved: ${fmtNum(s.stepFlops / (s.wallMs / 1000) / 1e9)} GFLOP/s over the wall time, ${fmtNum(s.stepFlops / (s.gpuBusyMs / 1000) / 1e9)} GFLOP/s over the GPU busy time`,
    );
  }
  out.push('');
  const ops = [...s.ops].sort((a, b) => (b.gpuMs ?? 0) - (a.gpuMs ?? 0) || b.dispatches - a.dispatches);
  out.push(
    textTable(
      ['phase', 'op', 'dispatches', 'GPU ms', 'share', 'GFLOPs', 'GFLOP/s'],
      ops.map((o) => [
        o.phase,
        o.op,
        String(o.dispatches),
        msCell(o.gpuMs),
        o.share === null ? '-' : fmtPercent(o.share),
        flopCell(o.flops),
        msCell(o.gflops),
      ]),
      numericColumns(7, 2),
    ),
  );
  out.push('');
  const ks = s.kernels.slice(0, kernelRows);
  out.push(
    textTable(
      ['kernel', 'dispatches', 'GPU ms', 'share', 'GFLOPs', 'GFLOP/s'],
      ks.map((k) => [
        k.kernel,
        String(k.dispatches),
        msCell(k.gpuMs),
        k.share === null ? '-' : fmtPercent(k.share),
        flopCell(k.flops),
        msCell(k.gflops),
      ]),
      numericColumns(6),
    ),
  );
  if (s.kernels.length > kernelRows) out.push(`(${s.kernels.length - kernelRows} more kernels in the JSON)`);
  return out.join('\n');
}
