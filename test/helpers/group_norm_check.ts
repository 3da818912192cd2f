/**
 * Group norm (plain, or with its fused ReLU / add+ReLU epilogue) on the GPU against the float64
 * reference (engine/reference/group_norm*.ts): y and every gradient, on random data of shape `s`
 * drawn from `seed`. It dispatches the forward and backward before its first await, so a caller
 * may wrap the call in a variant force (RBD_VARIANT's mechanism, or forceGroupNormPath).
 * Tolerance: TOL.forLength of the longest sum (the group's block, or the N*H*W of a channel).
 */
import * as assert from 'uvu/assert';
import { assertClose, TOL } from './gpu.ts';
import { asF32 } from './f32.ts';
import { Tensor } from '../../engine/tensor.ts';
import { backward } from '../../engine/autograd.ts';
import { Rng } from '../../engine/random.ts';
import { groupNorm, type NormEpilogue } from '../../engine/ops/group_norm.ts';
import { groupNormRelu } from '../../engine/ops/group_norm_act.ts';
import { groupNormForward, groupNormBackward, type GroupNormShape } from '../../engine/reference/group_norm.ts';
import { groupNormReluBackward, groupNormReluForward } from '../../engine/reference/group_norm_act.ts';

/** `checkReluMargin`: also assert that no pre-activation of the 'relu' epilogue lies within 1e-5 of the kink (the test data's validity). */
export async function checkGroupNorm(s: GroupNormShape, epilogue: NormEpilogue, seed: number, label: string, checkReluMargin = false) {
  const rng = new Rng(seed);
  const shape = [s.n, s.c, s.h, s.w];
  const size = s.n * s.c * s.h * s.w;
  const x = asF32(rng.array(size, () => rng.uniform(-2, 3)));
  const w = asF32(rng.array(s.c, () => rng.uniform(0.5, 1.5)));
  const b = asF32(rng.array(s.c, () => rng.uniform(-0.5, 0.5)));
  const dy = asF32(rng.array(size));
  // The residual keeps every pre-activation at least 1e-3 from the ReLU's kink, so float32 and
  // float64 agree on the mask (test/ops/group_norm_act.test.ts does the same).
  const normalized = groupNormForward(x, w, b, s);
  const r =
    epilogue === 'addRelu'
      ? asF32(rng.array(size).map((v, i) => (Math.abs(normalized[i] + v) < 1e-3 ? v + 2e-3 * Math.sign(normalized[i] + v || 1) : v)))
      : null;
  if (checkReluMargin && epilogue === 'relu') {
    const margin = normalized.reduce((m, v) => Math.min(m, Math.abs(v)), Infinity);
    assert.ok(margin > 1e-5, `${label}: test data: smallest |pre-activation| ${margin} must exceed 1e-5`);
  }
  const xt = Tensor.from(x, shape),
    wt = Tensor.from(w, [s.c]),
    bt = Tensor.from(b, [s.c]),
    rt = r ? Tensor.from(r, shape) : null;
  for (const t of [xt, wt, bt, rt]) if (t) t.requiresGrad = true;
  const y = epilogue === 'none' ? groupNorm(xt, wt, bt, s.groups) : groupNormRelu(xt, wt, bt, s.groups, rt);
  const dyt = Tensor.from(dy, shape);
  backward(y, dyt);
  const refY = epilogue === 'none' ? normalized : groupNormReluForward(x, w, b, r, s);
  const ref = epilogue === 'none' ? { ...groupNormBackward(x, w, dy, s), dresidual: null } : groupNormReluBackward(x, w, b, r, dy, s);
  // groupNorm's bounds (test/ops/group_norm.test.ts): sums over the block or the N*H*W of a
  // channel; the inputs' spread keeps 1/std below 1, so no invstd factor is needed.
  const tol = TOL.forLength(Math.max((s.c / s.groups) * s.h * s.w, s.n * s.h * s.w));
  assertClose(`${label} y`, await y.read(), refY, tol);
  assertClose(`${label} dx`, await xt.grad!.read(), ref.dx, tol);
  assertClose(`${label} dweight`, await wt.grad!.read(), ref.dweight, tol);
  assertClose(`${label} dbias`, await bt.grad!.read(), ref.dbias, tol);
  if (rt) assertClose(`${label} dresidual`, await rt.grad!.read(), ref.dresidual!, TOL.forLength(0));
  for (const t of [xt, wt, bt, rt, y, dyt]) {
    t?.grad?.dispose();
    t?.dispose();
  }
}
