// @smoke-gl
/**
 * The choice mechanism (engine/variant_choice.ts) and every candidate of every selection point.
 * - Forced-variant mode: each candidate this adapter can run is forced in turn (the same path as
 *   RBD_VARIANT) and its pass is compared with the float64 reference on awkward shapes where it
 *   fits; each candidate must have fitted at least one shape, so none goes unexercised. On
 *   lavapipe that covers the subgroup and per-invocation candidates, on the GL adapter (no
 *   subgroups) the per-invocation ones, and the subgroup ones must be refused there.
 * - Order: forcing > tuned choice for the call's class > today's rule; a forced or tuned candidate
 *   that does not fit a geometry falls back to the rule; errors name the op, the variant and the
 *   usable ones.
 * Tolerances: TOL.forLength of each output's reduction length, as in conv2d/matmul/group_norm tests.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { asF32 } from '../helpers/f32.ts';
import { checkGroupNorm } from '../helpers/group_norm_check.ts';
import { checkMatmul } from '../helpers/matmul_check.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { Rng } from '../../engine/random.ts';
import {
  conv2dGeometry,
  conv2dForward,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForwardKernel,
  conv2dBackwardWeightKernel,
  conv2dBackwardInputKernel,
  CONV2D_CHOICES,
  type ConvGeometry,
} from '../../engine/ops/conv2d.ts';
import { matmul, MATMUL_CHOICE } from '../../engine/ops/matmul.ts';
import { groupNorm, normGeometry, GROUP_NORM_CHOICES, type NormEpilogue, type NormGeometry } from '../../engine/ops/group_norm.ts';
import { usableRowSharings } from '../../engine/ops/gemm_tiles.ts';
import {
  selectionPoint,
  selectionPoints,
  usableCandidates,
  unusableReason,
  withForcedVariants,
  chooseWithSource,
  setTunedChoices,
  parseVariantList,
  checkForcedVariants,
  withRulesOnly,
  type Candidate,
  type AnySelectionPoint,
} from '../../engine/variant_choice.ts';
import { conv2dRef, conv2dBackwardRef, conv2dOutShape, type ConvParamsRef, type Shape4 } from '../../engine/reference/conv2d.ts';
import type { GroupNormShape } from '../../engine/reference/group_norm.ts';

await gpu();
const subgroups = usableRowSharings().includes('subgroups');

interface ConvCase {
  x: Shape4;
  w: Shape4;
  s?: [number, number];
  p?: [number, number];
  d?: [number, number];
  bias: boolean;
}

// General-only shapes (W % 4 != 0, dilation, stride phases, 1x1 with stride 3), the row shapes
// (3-wide stride 1 and 2, 7-wide stride 2), split-K-sized reductions, and a 1x1 map.
const CONV_CASES: ConvCase[] = [
  { x: [2, 3, 10, 9], w: [5, 3, 3, 2], s: [2, 1], p: [0, 2], d: [1, 2], bias: true },
  { x: [1, 2, 8, 8], w: [3, 2, 1, 1], s: [3, 3], bias: false },
  { x: [2, 3, 40, 37], w: [4, 3, 3, 3], p: [1, 1], bias: false },
  { x: [2, 5, 7, 12], w: [6, 5, 3, 3], p: [1, 1], bias: true },
  { x: [2, 5, 9, 16], w: [7, 5, 3, 3], s: [2, 2], p: [1, 1], bias: false },
  { x: [1, 3, 19, 32], w: [32, 3, 7, 7], s: [2, 2], p: [3, 3], bias: false },
  { x: [2, 3, 40, 36], w: [4, 3, 3, 3], p: [1, 1], bias: false },
  { x: [2, 4, 1, 1], w: [3, 4, 3, 3], p: [1, 1], bias: true },
];

interface ConvData {
  c: ConvCase;
  g: ConvGeometry;
  x: Float64Array;
  w: Float64Array;
  b: Float64Array | null;
  dy: Float64Array;
  yShape: Shape4;
  ref: { y: Float64Array; dx: Float64Array; dw: Float64Array };
}

const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const convData: ConvData[] = CONV_CASES.map((c, i) => {
  const rng = new Rng(500 + i);
  const pr: ConvParamsRef = { stride: c.s ?? [1, 1], padding: c.p ?? [0, 0], dilation: c.d ?? [1, 1] };
  const yShape = conv2dOutShape(c.x, c.w, pr);
  const x = asF32(rng.array(n(c.x)));
  const w = asF32(rng.array(n(c.w), () => rng.normal(0, 1 / Math.sqrt(c.w[1] * c.w[2] * c.w[3]))));
  const b = c.bias ? asF32(rng.array(c.w[0])) : null;
  const dy = asF32(rng.array(n(yShape)));
  const y = conv2dRef(x, c.x, w, c.w, b, pr).y;
  const grads = conv2dBackwardRef(x, c.x, w, c.w, dy, pr);
  const g = tidy(() =>
    conv2dGeometry(Tensor.empty(c.x), Tensor.empty(c.w), null, { stride: pr.stride, padding: pr.padding, dilation: pr.dilation }),
  );
  return { c, g, x, w, b, dy, yShape, ref: { y, dx: grads.dx, dw: grads.dw } };
});

const label = (d: ConvData) => `x=[${d.c.x}] w=[${d.c.w}] s${d.c.s ?? [1, 1]} p${d.c.p ?? [0, 0]} d${d.c.d ?? [1, 1]}`;

/** Run one conv pass on the case's data and compare it with the reference. */
async function checkConvPass(pass: 'forward' | 'backwardInput' | 'backwardWeight', d: ConvData, what: string) {
  const { c, g } = d;
  const xt = Tensor.from(d.x, c.x),
    wt = Tensor.from(d.w, c.w),
    bt = d.b ? Tensor.from(d.b, [c.w[0]]) : null,
    dyt = Tensor.from(d.dy, d.yShape);
  let out: Tensor, expected: Float64Array, length: number;
  if (pass === 'forward') {
    out = conv2dForward(xt, wt, bt, g);
    expected = d.ref.y;
    length = c.w[1] * c.w[2] * c.w[3];
  } else if (pass === 'backwardInput') {
    out = conv2dBackwardInput(dyt, wt, g);
    expected = d.ref.dx;
    length = c.w[0] * c.w[2] * c.w[3];
  } else {
    out = conv2dBackwardWeight(xt, dyt, g);
    expected = d.ref.dw;
    length = d.yShape[0] * d.yShape[2] * d.yShape[3];
  }
  assertClose(what, await out.read(), expected, TOL.forLength(length));
  for (const t of [xt, wt, bt, dyt, out]) t?.dispose();
}

const CONV_POINTS: ['forward' | 'backwardInput' | 'backwardWeight', AnySelectionPoint][] = [
  ['forward', CONV2D_CHOICES.forward],
  ['backwardInput', CONV2D_CHOICES.backwardInput],
  ['backwardWeight', CONV2D_CHOICES.backwardWeight],
];

for (const [pass, point] of CONV_POINTS) {
  test(`${point.op}: every usable candidate, forced, against the float64 reference where it fits`, async () => {
    const usable = usableCandidates(point);
    for (const cand of usable) {
      const fitting = convData.filter((d) => !cand.fits || cand.fits(d.g));
      assert.ok(fitting.length > 0, `${point.op}:${cand.name} fits none of the test shapes`);
      for (const d of fitting) {
        const pending = withForcedVariants({ [point.op]: cand.name }, () => {
          const chosen = chooseWithSource(point, d.g);
          assert.is(`${chosen.source} ${chosen.candidate.name}`, `forced ${cand.name}`, `${point.op} ${label(d)}`);
          return checkConvPass(pass, d, `${point.op}:${cand.name} ${label(d)}`);
        });
        await pending;
      }
    }
    console.log(`    ${usable.length} of ${point.candidates.length} candidates usable here`);
  });
}

test('matmul: every usable candidate, forced, against the float64 reference (forward and both gradients)', async () => {
  for (const cand of usableCandidates(MATMUL_CHOICE)) {
    for (const [M, K, N, seed] of [
      [37, 53, 29, 11],
      [1, 7, 130, 12],
      [70, 3, 517, 13],
    ]) {
      await withForcedVariants({ matmul: cand.name }, () => checkMatmul(M, K, N, seed, `matmul:${cand.name} [${M},${K}]x[${K},${N}]`));
    }
  }
});

// Group norm: the scalar body (H*W % 4 != 0), vec4 maps within and beyond the per-invocation
// limit (4096), every epilogue.
const NORM_CASES: GroupNormShape[] = [
  { n: 2, c: 6, h: 3, w: 5, groups: 3, eps: 1e-5 },
  { n: 2, c: 8, h: 4, w: 6, groups: 4, eps: 1e-5 },
  { n: 1, c: 2, h: 72, w: 64, groups: 1, eps: 1e-5 },
];

for (const point of Object.values(GROUP_NORM_CHOICES) as AnySelectionPoint[]) {
  test(`${point.op}: every candidate, forced, against the float64 reference (every epilogue) where it fits`, async () => {
    let seed = 900;
    for (const cand of usableCandidates(point)) {
      let fitted = 0;
      for (const s of NORM_CASES) {
        const geometry = tidy(() => normGeometry('none', Tensor.empty([s.n, s.c, s.h, s.w]), s.groups));
        if (cand.fits && !cand.fits(geometry)) continue;
        fitted++;
        for (const epilogue of ['none', 'relu', 'addRelu'] as NormEpilogue[]) {
          await withForcedVariants({ [point.op]: cand.name }, () =>
            checkGroupNorm(s, epilogue, seed++, `${point.op}:${cand.name} (${epilogue}) [${s.n},${s.c},${s.h},${s.w}] G${s.groups}`),
          );
        }
      }
      assert.ok(fitted > 0, `${point.op}:${cand.name} fits none of the test shapes`);
    }
  });
}

test('the subgroup candidates are usable exactly where the adapter has subgroups (GL: none)', () => {
  for (const p of selectionPoints()) {
    for (const c of p.candidates as Candidate<unknown, unknown>[]) {
      if (c.params?.sharing !== 'subgroups') continue;
      const why = unusableReason(c);
      assert.is(why === null, subgroups, `${p.op}:${c.name}: ${why}`);
    }
  }
});

test('without forcing or a tune cache the rules choose, as before: row kernels exactly where conv2d*Kernel says', () => {
  setTunedChoices(null);
  for (const d of convData) {
    const f = chooseWithSource(CONV2D_CHOICES.forward, d.g);
    assert.is(f.source, 'rule');
    assert.is(f.candidate.name.startsWith('row-'), conv2dForwardKernel(d.g) !== 'general', `forward ${label(d)}`);
    assert.is(f.candidate.name.endsWith('-wgfit'), true);
    const bi = chooseWithSource(CONV2D_CHOICES.backwardInput, d.g);
    assert.is(bi.candidate.name.startsWith('row-'), conv2dBackwardInputKernel(d.g) !== 'general', `backwardInput ${label(d)}`);
    const bw = chooseWithSource(CONV2D_CHOICES.backwardWeight, d.g);
    assert.is(bw.candidate.name.startsWith('row-'), conv2dBackwardWeightKernel(d.g) !== 'general', `backwardWeight ${label(d)}`);
    assert.ok(bw.candidate.name.endsWith('-wgfit-split64'), bw.candidate.name);
  }
  const sharing = subgroups ? 'subgroups' : 'invocation';
  assert.is(chooseWithSource(MATMUL_CHOICE, { M: 5, N: 7, K: 9 }).candidate.name, `${sharing}-wgfit`);
  // Group norm: scalar for H*W % 4 != 0; per slab up to 4096 elements, a workgroup per slab beyond.
  const gf = (c: number, h: number, w: number, groups: number) =>
    chooseWithSource(
      GROUP_NORM_CHOICES.forward,
      tidy(() => normGeometry('none', Tensor.empty([2, c, h, w]), groups)),
    ).candidate.name;
  assert.equal([gf(2, 3, 5, 1), gf(2, 4, 6, 1), gf(2, 72, 64, 1), gf(4, 32, 32, 1)], ['scalar', 'vec4PerSlab', 'vec4', 'vec4PerSlab']);
});

test('order: forcing > tuned choice for the class > rule; a tuned or forced candidate that does not fit takes the rule', () => {
  const g = { M: 40, N: 300, K: 20 };
  const cls = MATMUL_CHOICE.classOf(g);
  try {
    setTunedChoices({ matmul: { [cls]: 'invocation-wg32' } }, 'test');
    assert.equal(
      [chooseWithSource(MATMUL_CHOICE, g).source, chooseWithSource(MATMUL_CHOICE, g).candidate.name],
      ['tuned', 'invocation-wg32'],
    );
    assert.is(
      withRulesOnly(() => chooseWithSource(MATMUL_CHOICE, g).source),
      'rule',
      'withRulesOnly sets the tuned choices aside',
    );
    assert.is(chooseWithSource(MATMUL_CHOICE, g).source, 'tuned', '... and restores them');
    // Another class (M 4x larger: another log2 bucket): the rule.
    assert.is(chooseWithSource(MATMUL_CHOICE, { ...g, M: 160 }).source, 'rule');
    withForcedVariants({ matmul: 'invocation-wg64' }, () => {
      assert.is(chooseWithSource(MATMUL_CHOICE, g).candidate.name, 'invocation-wg64');
      assert.is(chooseWithSource(MATMUL_CHOICE, g).source, 'forced');
    });
    // A cache naming a candidate that no longer exists is ignored for that class.
    setTunedChoices({ matmul: { [cls]: 'gone-wg999' } }, 'test');
    assert.is(chooseWithSource(MATMUL_CHOICE, g).source, 'rule');
    // Row kernels do not fit a map whose rows are not whole vec4s: forced or tuned, the rule runs there.
    const general = convData[0];
    assert.is(conv2dForwardKernel(general.g), 'general');
    setTunedChoices({ 'conv2d.forward': { [CONV2D_CHOICES.forward.classOf(general.g)]: 'row-wg64' } }, 'test');
    assert.is(chooseWithSource(CONV2D_CHOICES.forward, general.g).source, 'rule');
    if (subgroups)
      withForcedVariants({ 'conv2d.forward': 'row-wg64' }, () =>
        assert.is(chooseWithSource(CONV2D_CHOICES.forward, general.g).source, 'rule'),
      );
  } finally {
    setTunedChoices(null);
  }
});

test('RBD_VARIANT forces, and a bad one is an error naming the op, the variant and the usable ones', () => {
  const g = { M: 40, N: 300, K: 20 };
  // A browser (this file also runs in the web page's conformance suite) has no environment.
  const hasEnv = typeof process !== 'undefined';
  if (hasEnv)
    try {
      process.env.RBD_VARIANT = 'matmul:invocation-wg32, groupNorm.forward:scalar';
      assert.is(chooseWithSource(MATMUL_CHOICE, g).candidate.name, 'invocation-wg32');
      const ng: NormGeometry = tidy(() => normGeometry('none', Tensor.empty([2, 4, 4, 4]), 1));
      assert.is(chooseWithSource(GROUP_NORM_CHOICES.forward, ng).candidate.name, 'scalar');
      checkForcedVariants();
      process.env.RBD_VARIANT = 'matmul:invocation-wg7';
      assert.throws(
        () => chooseWithSource(MATMUL_CHOICE, g),
        (e: Error) => /matmul has no variant 'invocation-wg7' \(usable on this adapter: .*invocation-wgfit/.test(e.message),
      );
      process.env.RBD_VARIANT = 'matmull:invocation-wg32';
      assert.throws(
        () => checkForcedVariants(),
        (e: Error) => /no selection point 'matmull' \(there are: .*matmul/.test(e.message),
      );
      process.env.RBD_VARIANT = 'matmul';
      assert.throws(() => checkForcedVariants(), /'matmul' is not op:variant/);
    } finally {
      delete process.env.RBD_VARIANT;
    }
  // An adapter that cannot run a candidate: a point of this test's own whose candidate says why.
  const point = selectionPoint<number, () => number>({
    op: 'test.unusable',
    candidates: [
      { name: 'fast', unusable: () => 'needs a feature this adapter lacks', launch: () => 1 },
      { name: 'plain', launch: () => 2 },
    ],
    classOf: () => 'all',
    rule: () => 'plain',
  });
  assert.throws(
    () => withForcedVariants({ 'test.unusable': 'fast' }, () => 0),
    (e: Error) => e.message.includes('test.unusable:fast cannot run on this adapter (needs a feature this adapter lacks); usable: plain'),
  );
  setTunedChoices({ 'test.unusable': { all: 'fast' } }, 'test');
  assert.is(chooseWithSource(point, 0).candidate.launch(), 2, 'a tuned choice this adapter cannot run is ignored');
  setTunedChoices(null);
  if (!subgroups) {
    assert.throws(
      () => withForcedVariants({ 'conv2d.forward': 'row-wgfit' }, () => 0),
      (e: Error) =>
        /conv2d\.forward:row-wgfit cannot run on this adapter \(needs subgroups.*\); usable: general-invocation-wgfit/.test(e.message),
    );
  }
  assert.equal(parseVariantList(' a.b:x , c:y '), { 'a.b': 'x', c: 'y' });
});

test.run();
