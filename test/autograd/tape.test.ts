// @smoke-gl
/**
 * The autograd tape itself (engine/autograd.ts): shared subgraphs, gradient accumulation across
 * backward calls, no-grad scopes, detach, graph and saved-tensor release, error messages.
 * Graphs are built from add (whose gradient is exact: sums of a few copies of the upstream
 * gradient) and a test-only identity op that counts how often its rule runs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu, assertClose, TOL } from '../helpers/gpu.ts';
import { Tensor, tidy } from '../../engine/tensor.ts';
import { memoryStats } from '../../engine/pool.ts';
import { backward, noGrad, detach, record, save, needsGrad, releaseGraph, zeroGrad } from '../../engine/autograd.ts';
import { add, copyOf } from '../../engine/ops/add.ts';
import { Rng } from '../../engine/random.ts';

test.before(async () => {
  await gpu();
});

const rng = new Rng(11);

function leaf(shape: number[]): Tensor {
  const t = Tensor.from(rng.array(shape.reduce((a, b) => a * b, 1)), shape);
  t.requiresGrad = true;
  return t;
}

/** y = x, recording a rule that counts its calls and saves a copy of x (to observe release). */
function countedIdentity(x: Tensor, counter: { calls: number }): Tensor {
  const y = copyOf(x);
  if (needsGrad(x)) {
    const kept = save(x);
    record(
      'countedIdentity',
      y,
      [x],
      (g) => {
        counter.calls++;
        return [copyOf(g)];
      },
      [kept],
    );
  }
  return y;
}

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

test('shared node x=[3,5]: its rule runs once with the summed gradient (diamond)', async () => {
  const a = leaf([3, 5]);
  const counter = { calls: 0 };
  const g = Tensor.from(rng.array(15), [3, 5]);
  tidy(() => {
    const m = countedIdentity(a, counter);
    const c = add(add(m, m), m); // dc/dm = 3
    backward(c, g);
  });
  assert.is(counter.calls, 1);
  const gv = f64(await g.read());
  // float32: 3g is computed as (g + g) + g: exact for 2g, one rounding for the sum (<= 1 ulp).
  assertClose(
    'diamond a.grad = 3g',
    await a.grad!.read(),
    gv.map((v) => 3 * v),
    TOL.values,
  );
  for (const t of [a, g]) t.dispose();
  zeroGrad([a]);
});

test('gradient accumulation x=[7]: two backward calls add up; zeroGrad clears', async () => {
  const a = leaf([7]);
  const g1 = Tensor.from(rng.array(7), [7]);
  const g2 = Tensor.from(rng.array(7), [7]);
  tidy(() => backward(add(a, a), g1));
  tidy(() => backward(add(a, a), g2));
  const [v1, v2] = [f64(await g1.read()), f64(await g2.read())];
  assertClose(
    'accumulated a.grad = 2g1 + 2g2',
    await a.grad!.read(),
    v1.map((v, i) => 2 * v + 2 * v2[i]),
    TOL.values,
  );
  zeroGrad([a]);
  assert.is(a.grad, null);
  for (const t of [a, g1, g2]) t.dispose();
});

test('noGrad: nothing is recorded; outputs do not require grad', () => {
  const a = leaf([4]);
  const y = noGrad(() => add(a, a));
  assert.is(y.requiresGrad, false);
  assert.is(y.node, null);
  assert.throws(() => backward(y), /does not require grad \(was it computed under noGrad/);
  for (const t of [a, y]) t.dispose();
});

test('detach x=[2,3]: gradient stops at the detached handle', async () => {
  const a = leaf([2, 3]);
  const g = Tensor.from(rng.array(6), [2, 3]);
  tidy(() => {
    const d = detach(add(a, a));
    assert.is(d.requiresGrad, false);
    backward(add(d, a), g); // only the direct path reaches a
  });
  assertClose('detached a.grad = g', await a.grad!.read(), await g.read(), TOL.values);
  for (const t of [a, g]) t.dispose();
  zeroGrad([a]);
});

test('backward releases the graph and every saved tensor: live bytes return to the baseline', async () => {
  const a = leaf([1000]);
  const before = memoryStats().liveBytes;
  const counter = { calls: 0 };
  let out: Tensor | null = null;
  tidy(() => {
    let y = a;
    for (let i = 0; i < 5; i++) y = countedIdentity(add(y, a), counter);
    out = y.keep();
  });
  const o = out!;
  assert.ok(memoryStats().liveBytes > before, 'saved tensors hold memory before backward');
  const seed = Tensor.full(o.shape, 1);
  backward(o, seed);
  assert.is(counter.calls, 5);
  assert.is(o.node, null, 'output detached from its node');
  o.dispose();
  seed.dispose();
  const gradBytes = 4096; // a.grad: 1000 f32 = 4000 bytes -> pool bucket 4096
  assert.is(memoryStats().liveBytes - before, gradBytes, 'only the leaf gradient stays live');
  zeroGrad([a]);
  a.dispose();
});

test("a node's saved tensors are released right after its rule runs, before earlier nodes run (chain of 4)", () => {
  const a = leaf([64]);
  const saved: Tensor[] = [];
  /** When each rule ran: how many of the saved handles were already released. */
  const releasedAtCall: number[] = [];
  const y = tidy(() => {
    let t = a;
    for (let i = 0; i < 4; i++) {
      const x = t;
      t = copyOf(x);
      const s = save(x);
      saved.push(s);
      record(
        'chainLink',
        t,
        [x],
        (g) => {
          releasedAtCall.push(saved.filter((h) => h.isDisposed).length);
          return [copyOf(g)];
        },
        [s],
      );
    }
    return t;
  });
  const seed = Tensor.full([64], 1);
  backward(y, seed);
  // Rules run from the last link to the first; before the k-th rule runs, k links were done.
  assert.equal(releasedAtCall, [0, 1, 2, 3]);
  assert.ok(saved.every((h) => h.isDisposed));
  for (const t of [y, seed, a]) t.dispose();
  zeroGrad([a]);
});

for (const failure of ['throws', 'wrong-size gradient'] as const) {
  test(`a rule that ${failure === 'throws' ? 'throws' : 'returns a wrong-size gradient'} (chain of 3, x=[300]): the error names it and nothing leaks`, () => {
    const a = leaf([300]);
    const before = memoryStats().liveBytes;
    const counter = { calls: 0 };
    const y = tidy(() => {
      const mid = countedIdentity(a, counter);
      const broken = copyOf(mid);
      const kept = save(mid);
      record(
        'brokenRule',
        broken,
        [mid],
        () => {
          if (failure === 'throws') throw new Error('brokenRule failed');
          return [Tensor.zeros([299])];
        },
        [kept],
      );
      return countedIdentity(broken, counter);
    });
    const seed = Tensor.full([300], 1);
    assert.throws(
      () => backward(y, seed),
      failure === 'throws' ? /brokenRule failed/ : /brokenRule backward: gradient \[299\] does not match input \[300\]/,
    );
    assert.is(counter.calls, 1, 'only the rule after the failure ran');
    assert.is(a.grad, null);
    for (const t of [y, seed]) t.dispose();
    assert.is(memoryStats().liveBytes, before, 'saved tensors and partial gradients were released');
    a.dispose();
  });
}

test('releaseGraph drops an undifferentiated graph and its saved tensors', () => {
  const a = leaf([500]);
  const before = memoryStats().liveBytes;
  const counter = { calls: 0 };
  const y = tidy(() => countedIdentity(countedIdentity(a, counter), counter));
  releaseGraph(y);
  assert.is(y.node, null);
  y.dispose();
  assert.is(memoryStats().liveBytes, before);
  assert.is(counter.calls, 0);
  a.dispose();
});

test('backward of a non-scalar without an explicit gradient names the shape', () => {
  const a = leaf([2, 2]);
  const y = add(a, a);
  assert.throws(() => backward(y), /backward: root \[2,2\] is not a scalar; pass its gradient explicitly/);
  releaseGraph(y);
  for (const t of [a, y]) t.dispose();
});

test('scalar root x=[1]: seed gradient is 1; a leaf root gets grad 1', async () => {
  const a = leaf([1]);
  tidy(() => backward(add(a, a)));
  assert.equal(Array.from(await a.grad!.read()), [2]);
  zeroGrad([a]);
  backward(a);
  assert.equal(Array.from(await a.grad!.read()), [1]);
  zeroGrad([a]);
  a.dispose();
});

test.run();
