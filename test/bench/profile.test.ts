// @smoke-gl
/**
 * rbd profile: the profiler's attribution (phase, op named by the op itself, layer scope), the
 * FLOPs the ops state per kernel against hand counts and against the model counter (two
 * independent formulas: engine/ops vs models/flops.ts), and the Chrome trace-event file: valid JSON with the trace-event fields, durations
 * never negative, and every event inside its parent (kernel in op run, op run in phase, phase in
 * step). A tiny ResNet keeps the step fast; no test looks at how fast anything ran.
 */
import { gemmTiles } from '../../engine/ops/gemm_tiles.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu } from '../helpers/gpu.ts';
import { runtime, opScope, namedOp } from '../../engine/runtime.ts';
import { Profiler } from '../../engine/profiler.ts';
import { Tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { conv2d } from '../../engine/ops/conv2d.ts';
import { linear } from '../../engine/ops/linear.ts';
import { mseLoss } from '../../engine/ops/mse_loss.ts';
import { relu } from '../../engine/ops/relu.ts';
import { Adam } from '../../engine/optim/adam.ts';
import { countFlops } from '../../models/flops.ts';
import type { ResNetArch } from '../../models/arch.ts';
import { magsFlag } from '../../cli/flags.ts';
import { profileStep, toTrace, formatProfile, TRACE_LEVELS, type StepProfile, type TraceFile } from '../../bench/profile.ts';

const tiny: ResNetArch = { planes: [4, 8], layers: [1, 1], norm: 'group', groups: 2, numClasses: 3, inChannels: 3 };
// Teacher 10x at 64px, student 5x at 32px, batch 1: stage maps 16 and 8 (the row3 conv kernels)
// and 4 (the general ones).
const inputs = magsFlag('test', '10x,5x', 64) as [ReturnType<typeof magsFlag>[0], ReturnType<typeof magsFlag>[0]];
const PHASES = ['teacher forward', 'student forward', 'loss', 'backward', 'optimizer step'];

let timed: StepProfile;
let wall: StepProfile;

test.before(async () => {
  await gpu();
  timed = await profileStep({ arch: tiny, inputs, batch: 1, seed: 3, warmup: 1 });
  wall = await profileStep({ arch: tiny, inputs, batch: 1, seed: 3, warmup: 0, timestamps: false });
});

/** Profile `fn` (wall clock) and return its dispatches. */
async function dispatchesOf(fn: () => void) {
  const p = new Profiler(runtime(), { timestamps: false });
  p.attach();
  try {
    await p.phase('work', fn);
  } finally {
    p.detach();
  }
  return (await p.finish()).dispatches;
}

test('ops name themselves: the outermost op scope, backward rules in their op, the optimizer step in its own', async () => {
  const x = Tensor.from(new Float32Array(2 * 5).fill(0.5), [2, 5]).keep();
  x.requiresGrad = true;
  const w = Tensor.from(new Float32Array(3 * 5).fill(0.25), [3, 5]).keep();
  w.requiresGrad = true;
  const opt = new Adam([w], { lr: 1e-3 });
  // An op that runs other ops: its dispatches are its own (outermost scope wins).
  const target = Tensor.zeros([2, 3]).keep();
  const outer = namedOp('outerOp', (t: Tensor) => mseLoss(linear(t, w, null), target));
  const ds = await dispatchesOf(() => {
    const loss = outer(x);
    backward(loss);
    opt.step();
    opScope('explicit', () => relu(x).dispose());
    relu(x).dispose();
  });
  const ops = [...new Set(ds.map((d) => d.op))];
  assert.equal(
    ops,
    ['outerOp', 'mseLoss', 'linear', 'accumulate', 'adam', 'explicit', 'relu'].filter((o) => ops.includes(o)),
  );
  assert.ok(
    ds.some((d) => d.op === 'outerOp' && d.kernel === 'matmul'),
    'linear inside outerOp belongs to outerOp',
  );
  assert.ok(
    ds.some((d) => d.op === 'linear' && d.kernel === 'matmul'),
    'linear backward runs in the linear scope',
  );
  assert.ok(
    ds.some((d) => d.op === 'adam'),
    'the optimizer step is adam',
  );
  assert.ok(
    ds.some((d) => d.op === 'explicit'),
    'opScope names the dispatch',
  );
  assert.is(ds.at(-1)!.op, 'relu', 'a bare op call is its own op');
  opt.zeroGrad();
  for (const t of [x, w, target]) t.dispose();
});

test('FLOPs stated by the ops equal hand counts for one tiny conv and one tiny linear', async () => {
  // conv: x [1,2,5,5], w [3,2,3,3], padding 1, bias: y [1,3,5,5]; 75 outputs x 18 taps = 1350
  // multiply-adds -> forward 2700 + 75 bias adds; weight and input gradients 2700 each; bias gradient 75.
  const x = Tensor.from(new Float32Array(50).fill(1), [1, 2, 5, 5]).keep();
  const w = Tensor.from(new Float32Array(54).fill(0.5), [3, 2, 3, 3]).keep();
  const b = Tensor.from(new Float32Array(3).fill(0), [3]).keep();
  for (const t of [x, w, b]) t.requiresGrad = true;
  const conv = await dispatchesOf(() => backward(conv2d(x, w, b, { padding: 1 }), Tensor.full([1, 3, 5, 5], 1)));
  const byPass = (prefix: string) =>
    conv.filter((d) => d.op === 'conv2d' && d.kernel.startsWith(prefix)).reduce((a, d) => a + (d.flops ?? 0), 0);
  assert.is(byPass('conv2dForward'), 2775);
  assert.is(byPass('conv2dBackwardWeight'), 2700);
  assert.is(byPass('conv2dBackwardInput'), 2700);
  assert.is(byPass('conv2dBackwardBias'), 75);
  // linear: x [4,6] w [5,6] b [5]: 4*5*6 = 120 multiply-adds -> 240 + 20 bias adds forward;
  // dx = dy w and dw = dy^T x 240 each; db 20.
  const lx = Tensor.from(new Float32Array(24).fill(1), [4, 6]).keep();
  const lw = Tensor.from(new Float32Array(30).fill(0.5), [5, 6]).keep();
  const lb = Tensor.from(new Float32Array(5).fill(0), [5]).keep();
  for (const t of [lx, lw, lb]) t.requiresGrad = true;
  const lin = await dispatchesOf(() => backward(linear(lx, lw, lb), Tensor.full([4, 5], 1)));
  const linFlops = lin.filter((d) => d.op === 'linear').map((d) => d.flops);
  assert.equal(linFlops, [260, 240, 240, 20]);
  for (const t of [x, w, b, lx, lw, lb]) {
    t.grad?.dispose();
    t.dispose();
  }
});

test('profile tiny ResNet 64px->32px: phases in order, every dispatch attributed, observer detached', () => {
  assert.is(runtime().observer, null);
  for (const s of [timed, wall]) {
    assert.equal(
      s.phases.map((p) => p.name),
      PHASES,
    );
    assert.is(
      s.phases.reduce((n, p) => n + p.dispatches, 0),
      s.dispatches.length,
    );
    assert.ok(
      s.dispatches.every((d) => PHASES.includes(d.phase) && d.op !== '(unknown)'),
      'phase and op of each dispatch',
    );
    assert.equal(
      s.dispatches.map((d) => d.index),
      s.dispatches.map((_, i) => i),
    );
  }
  const ops = (phase: string) => new Set(timed.ops.filter((o) => o.phase === phase).map((o) => o.op));
  // With GroupNorm every norm -> ReLU (-> add) is the fused groupNormRelu; plain groupNorm is left
  // to the downsample paths, and no separate relu or add runs.
  for (const op of ['conv2d', 'groupNorm', 'groupNormRelu', 'maxPool2d', 'adaptiveAvgPool2d', 'linear']) {
    assert.ok(ops('teacher forward').has(op), `teacher forward runs ${op}`);
    assert.ok(ops('student forward').has(op), `student forward runs ${op}`);
  }
  for (const phase of ['teacher forward', 'student forward'])
    assert.ok(!ops(phase).has('relu') && !ops(phase).has('add'), `${phase}: ReLU and add fused into groupNormRelu`);
  assert.ok(!ops('backward').has('relu'), 'backward: no separate ReLU pass');
  assert.ok(ops('backward').has('conv2d'));
  assert.ok(ops('optimizer step').has('adam'));
  const scoped = timed.dispatches.filter((d) => d.phase === 'student forward' && d.op === 'conv2d').map((d) => d.scope);
  assert.ok(
    scoped.includes('student.conv_1') && scoped.includes('student.layer_2.0.downsample.0'),
    `layer scopes: ${[...new Set(scoped)].join(', ')}`,
  );
  assert.match(formatProfile(timed), /conv2dForward/);
});

test('profile FLOPs: conv and linear as their dispatches state them agree with the model counter (two independent formulas); other ops from the counter', () => {
  const t = countFlops(tiny, inputs[0].size);
  const s = countFlops(tiny, inputs[1].size);
  const op = (phase: string, name: string) => timed.ops.find((o) => o.phase === phase && o.op === name)!.flops;
  // Stated by the dispatches (engine/ops) vs counted from the architecture (models/flops.ts).
  assert.is(op('teacher forward', 'conv2d'), t.byKind.conv.forward);
  assert.is(op('student forward', 'conv2d'), s.byKind.conv.forward);
  assert.is(op('backward', 'conv2d'), s.byKind.conv.backward, 'no image gradient for the stem: the input needs none');
  assert.is(op('teacher forward', 'linear'), t.byKind.linear.forward);
  assert.is(op('backward', 'linear'), s.byKind.linear.backward);
  // The group-norm ops state theirs too (engine/ops/group_norm.ts): plain groupNorm runs the
  // downsample norms, groupNormRelu every other norm with its ReLU and residual add; together
  // they are the counter's norm + relu + add layers.
  const downsampleNorms = (r: typeof s, dir: 'forwardFlops' | 'backwardFlops') =>
    r.layers.filter((l) => l.kind === 'norm' && l.name.includes('downsample')).reduce((a, l) => a + l[dir], 0);
  assert.is(op('teacher forward', 'groupNorm'), downsampleNorms(t, 'forwardFlops'));
  assert.is(op('student forward', 'groupNorm'), downsampleNorms(s, 'forwardFlops'));
  assert.is(op('backward', 'groupNorm'), downsampleNorms(s, 'backwardFlops'));
  const fusedKinds = (r: typeof s, dir: 'forward' | 'backward') => r.byKind.norm[dir] + r.byKind.relu[dir] + r.byKind.add[dir];
  assert.is(op('teacher forward', 'groupNorm')! + op('teacher forward', 'groupNormRelu')!, fusedKinds(t, 'forward'));
  assert.is(op('student forward', 'groupNorm')! + op('student forward', 'groupNormRelu')!, fusedKinds(s, 'forward'));
  assert.is(op('backward', 'groupNorm')! + op('backward', 'groupNormRelu')!, fusedKinds(s, 'backward'));
  assert.is(op('optimizer step', 'adam'), null, 'the counter does not count the optimizer');
  // Each conv pass runs the general kernel or a row variant, by layer geometry, and states its
  // FLOPs with its dispatch (engine/ops/conv2d.ts convPassFlops); the counter computes them
  // from the architecture (models/flops.ts) without any GPU: the sums must agree exactly.
  const k = (name: string) => timed.kernels.find((x) => x.kernel === name)?.flops ?? 0;
  // 64 px at 10x and 32 px at 5x: stems on rows of 64 and 32 (row7s2), maps of 16x16 and 8x8
  // (row3; the 16 -> 8 downsampling 3x3: row3s2) and 4x4 (general)
  // (the row kernels need subgroups: on the GL adapter only the general ones run)
  const rowKernels =
    gemmTiles().sharing === 'subgroups'
      ? [
          'conv2dForwardRow3',
          'conv2dForwardRow3s2',
          'conv2dForwardRow7s2',
          'conv2dBackwardWeightRow3',
          'conv2dBackwardWeightRow7s2',
          'conv2dBackwardInputRow3',
        ]
      : [];
  for (const name of ['conv2dForward', ...rowKernels]) assert.ok(k(name) > 0, `${name} ran and got FLOPs`);
  const byPrefix = (prefix: string) => timed.kernels.filter((x) => x.kernel.startsWith(prefix)).reduce((a, x) => a + (x.flops ?? 0), 0);
  assert.is(byPrefix('conv2dForward'), t.byKind.conv.forward + s.byKind.conv.forward);
  assert.is(byPrefix('conv2dBackwardWeight') + byPrefix('conv2dBackwardInput'), s.byKind.conv.backward);
  assert.is(timed.stepFlops, t.total.forwardFlops + s.total.forwardFlops + s.total.backwardFlops);
});

test('profile times: GPU durations non-negative and shares summing to 1 (timestamps); null on the wall clock', () => {
  if (timed.clock === 'timestamp-query') {
    assert.ok(timed.dispatches.every((d) => d.startUs !== null && d.durUs !== null && d.durUs >= 0 && d.startUs >= 0));
    const shares = timed.kernels.reduce((a, k) => a + (k.share ?? 0), 0);
    assert.ok(Math.abs(shares - 1) < 1e-9, `kernel shares sum to ${shares}`);
  }
  assert.is(wall.clock, 'wall-clock');
  assert.ok(wall.dispatches.every((d) => d.durUs === null));
  assert.ok(wall.phases.every((p) => p.wallMs >= 0 && p.gpuMs === null));
});

/**
 * Check a parsed trace: fields, non-negative durations, and nesting by TRACE_LEVELS. Throws
 * plain Errors (not uvu assertions) so the test below can prove it catches broken traces.
 */
function checkTrace(t: TraceFile) {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new Error(msg);
  };
  check(Array.isArray(t.traceEvents), 'traceEvents is an array');
  for (const e of t.traceEvents) {
    check(typeof e.name === 'string', 'event name is a string');
    check(e.ph === 'X' || e.ph === 'M', `event phase type ${e.ph}`);
    check(typeof e.pid === 'number' && typeof e.tid === 'number', `${e.name}: pid and tid are numbers`);
    if (e.ph === 'X') {
      check(Number.isFinite(e.ts) && Number.isFinite(e.dur), `${e.name}: ts and dur are numbers`);
      check(e.dur! >= 0, `${e.name}: duration ${e.dur} is negative`);
    }
  }
  const complete = t.traceEvents.filter((e) => e.ph === 'X');
  const eps = 1e-6;
  for (let level = 1; level < TRACE_LEVELS.length; level++) {
    for (const e of complete.filter((x) => x.cat === TRACE_LEVELS[level])) {
      const parents = complete.filter((p) => p.tid === e.tid && p.cat === TRACE_LEVELS[level - 1]);
      if (!parents.length) continue; // the CPU thread holds phases only
      const inside = parents.filter((p) => p.ts! - eps <= e.ts! && e.ts! + e.dur! <= p.ts! + p.dur! + eps);
      check(inside.length >= 1, `${e.cat} '${e.name}' [${e.ts}, +${e.dur}] lies in no ${TRACE_LEVELS[level - 1]}`);
    }
  }
}

test('trace: valid trace-event JSON, nested events fit their parents (timestamp and wall clock)', () => {
  for (const s of [timed, wall]) {
    const t = JSON.parse(JSON.stringify(toTrace(s, { note: 'test' }))) as TraceFile;
    checkTrace(t);
    assert.is(t.displayTimeUnit, 'ms');
    assert.is(t.otherData.clock, s.clock);
    const kernels = t.traceEvents.filter((e) => e.cat === 'kernel');
    if (s.clock === 'timestamp-query') {
      assert.is(kernels.length, s.dispatches.length);
      assert.is(t.traceEvents.filter((e) => e.cat === 'step').length, 1);
      assert.is(t.traceEvents.filter((e) => e.cat === 'phase' && e.tid === 1).length, PHASES.length);
    } else assert.is(kernels.length, 0, 'no per-kernel events without GPU timestamps');
    assert.is(t.traceEvents.filter((e) => e.cat === 'phase' && e.tid === 2).length, PHASES.length);
  }
});

test('trace checker catches a negative duration, and (with timestamps) a kernel outside its op', () => {
  const base = JSON.parse(JSON.stringify(toTrace(timed, {}))) as TraceFile;
  checkTrace(base);
  const negative = structuredClone(base);
  negative.traceEvents.find((e) => e.ph === 'X')!.dur = -1;
  assert.throws(() => checkTrace(negative), /negative/);
  if (timed.clock !== 'timestamp-query') return; // no kernel events on the wall clock
  const moved = structuredClone(base);
  moved.traceEvents.find((e) => e.cat === 'kernel')!.ts = -1e9;
  assert.throws(() => checkTrace(moved), /lies in no op/);
});

test.run();
