/** reshape: a view of the same data whose gradient flows back in the input's shape. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu } from '../helpers/gpu.ts';
import { randomF32Data, leaf, gpuGrads } from '../helpers/op_check.ts';
import { reshape } from '../../engine/ops/reshape.ts';
import { Tensor } from '../../engine/tensor.ts';
import { ShapeError } from '../../engine/errors.ts';

test.before(async () => {
  await gpu();
});

test('reshape x=[2,3,1,5] to [6,-1]: same data, gradient back in x shape', async () => {
  const data = randomF32Data(1, 30);
  const x = leaf(data, [2, 3, 1, 5]);
  const y = reshape(x, [6, -1]);
  assert.equal(y.shape, [6, 5]);
  assert.is(y.buffer, x.buffer, 'a view shares the storage');
  assert.equal(Array.from(await y.read()), Array.from(data));
  const dout = randomF32Data(2, 30);
  const [dx] = await gpuGrads(y, dout, [x]);
  assert.equal(x.shape, [2, 3, 1, 5]);
  assert.equal(Array.from(dx!), Array.from(dout), 'row-major order is kept: the gradient is dout itself');
  x.dispose();
  y.dispose();
});

test('bad calls throw ShapeError naming reshape and the shapes', () => {
  const x = Tensor.empty([2, 3]);
  const is = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => reshape(x, [4, 2]), is(/reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,2\] \(8 elements\)/));
  assert.throws(() => reshape(x, [-1, -1]), is(/reshape: target shape \[-1,-1\] for input \[2,3\]: .* at most one -1/));
  assert.throws(() => reshape(x, [4, -1]), is(/reshape: cannot infer the -1 in \[4,-1\] from input \[2,3\]/));
  assert.throws(() => reshape(x, [-3, -2]), is(/reshape: target shape \[-3,-2\]/));
  x.dispose();
});

test.run();
