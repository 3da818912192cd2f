/**
 * sum(x, axes?, keepDims = false) and mean(x, axes?, keepDims = false) over the given axes
 * (negative axes count from the end; no axes: all of them). Reduced axes are dropped, or kept
 * as size 1 with keepDims; a result with no axes left has shape [1].
 * Backward: the upstream gradient broadcast back over the reduced axes (times 1/count for mean).
 *
 * How: x is seen as runs of adjacent reduced and kept axes. Each run of reduced axes is one
 * pass of the kernel over x viewed as [outer, R, inner] (e.g. axes [0, 2, 3] of N,C,H,W: first
 * [N*C, H*W, 1], then [1, N, C]); backward broadcasts the passes back in reverse order.
 */
import { Tensor, shapeSize, shapeStr } from '../tensor.ts';
import { dispatch, groupsFor, elementwiseWorkgroupSize, namedOp } from '../runtime.ts';
import { needsGrad, record } from '../autograd.ts';
import { ShapeError } from '../errors.ts';
import type { KernelSpec } from '../kernel.ts';
import { longReductionWorkgroupSize } from './launch.ts';

/** Reductions longer than this use a whole workgroup per output. */
const WIDE_REDUCTION = 64;

type Pass = { outer: number; reduced: number; inner: number; factor: number };

/** sumWide reduces `length` elements per workgroup; the others are one invocation per item. */
function spec(entry: 'sumWide' | 'sumNarrow' | 'broadcast', length = 0): KernelSpec {
  const name = { sumWide: 'reduceSumWide', sumNarrow: 'reduceSumNarrow', broadcast: 'reduceBroadcast' }[entry];
  return { name, file: 'reduce/reduce.wgsl', entry, overrides: { WG: entry === 'sumWide' ? longReductionWorkgroupSize(length) : elementwiseWorkgroupSize() } };
}

function normalizeAxes(op: string, x: Tensor, axes: number[] | undefined): Set<number> {
  if (x.dtype !== 'f32') throw new ShapeError(op, `input ${x.label} must be f32`);
  if (x.rank === 0) throw new ShapeError(op, `input ${x.label} has no axes to reduce`);
  if (axes === undefined) return new Set(x.shape.map((_, i) => i));
  const desc = `axes ${JSON.stringify(axes)} of input ${shapeStr(x.shape)}`;
  if (axes.length === 0) throw new ShapeError(op, `${desc}: give at least one axis, or omit axes to reduce over all of them`);
  const out = new Set<number>();
  for (const a of axes) {
    if (!Number.isInteger(a) || a < -x.rank || a >= x.rank) throw new ShapeError(op, `${desc}: axis ${a} is out of range for rank ${x.rank}`);
    const axis = a < 0 ? a + x.rank : a;
    if (out.has(axis)) throw new ShapeError(op, `${desc}: axis ${a} is given twice`);
    out.add(axis);
  }
  return out;
}

/** The kernel passes, in forward order; `scale` goes into the first pass's factor. */
function planPasses(shape: readonly number[], reduced: Set<number>, scale: number): Pass[] {
  // Runs of adjacent axes of one kind: { size, reduced }.
  const runs: { size: number; reduced: boolean }[] = [];
  shape.forEach((d, i) => {
    const last = runs[runs.length - 1];
    if (last && last.reduced === reduced.has(i)) last.size *= d;
    else runs.push({ size: d, reduced: reduced.has(i) });
  });
  const passes: Pass[] = [];
  // Reduce the last reduced run first; removing it leaves the earlier runs' positions intact.
  for (let k = runs.length - 1; k >= 0; k--) {
    if (!runs[k].reduced) continue;
    const outer = shapeSize(runs.slice(0, k).map((r) => r.size));
    const inner = shapeSize(runs.slice(k + 1).map((r) => r.size));
    passes.push({ outer, reduced: runs[k].size, inner, factor: passes.length === 0 ? scale : 1 });
    runs.splice(k, 1);
  }
  return passes;
}

function reduceOp(op: 'sum' | 'mean', x: Tensor, axes: number[] | undefined, keepDims: boolean): Tensor {
  const reduced = normalizeAxes(op, x, axes);
  const count = shapeSize(x.shape.filter((_, i) => reduced.has(i)));
  if (op === 'mean' && count === 0) throw new ShapeError(op, `input ${shapeStr(x.shape)} has no elements along axes ${JSON.stringify([...reduced])}: the mean is undefined`);
  const kept = keepDims ? x.shape.map((d, i) => (reduced.has(i) ? 1 : d)) : x.shape.filter((_, i) => !reduced.has(i));
  const outShape = kept.length ? kept : [1];
  const passes = planPasses(x.shape, reduced, op === 'mean' ? 1 / count : 1);
  const wg = elementwiseWorkgroupSize();
  let current = x;
  passes.forEach((pass, i) => {
    const last = i === passes.length - 1;
    const y = Tensor.empty(last ? outShape : [pass.outer * pass.inner]);
    const wide = pass.reduced > WIDE_REDUCTION;
    dispatch(wide ? spec('sumWide', pass.reduced) : spec('sumNarrow'), { x: current, y }, pass, wide ? y.size : groupsFor(y.size, wg));
    if (current !== x) current.dispose();
    current = y;
  });
  const y = current;
  if (needsGrad(x)) {
    record(op, y, [x], (dy) => {
      let g = dy;
      for (let i = passes.length - 1; i >= 0; i--) {
        const pass = passes[i];
        const out = Tensor.empty(i === 0 ? x.shape : [pass.outer * pass.reduced * pass.inner]);
        dispatch(spec('broadcast'), { g, out }, pass, groupsFor(out.size, wg));
        g = out;
      }
      return [g];
    });
  }
  return y;
}

function sumImpl(x: Tensor, axes?: number[], keepDims = false): Tensor {
  return reduceOp('sum', x, axes, keepDims);
}
export const sum = namedOp('sum', sumImpl);

function meanImpl(x: Tensor, axes?: number[], keepDims = false): Tensor {
  return reduceOp('mean', x, axes, keepDims);
}
export const mean = namedOp('mean', meanImpl);
