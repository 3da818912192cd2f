/**
 * conformance/suite.ts + conformance/uvu.ts: the page's conformance runner records, per test,
 * the worst comparison (error, tolerance, ratio), marks failures (a check over tolerance, or a
 * throw) and leaves out tests that compare nothing. Checked on tests with known errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runConformance } from '../../conformance/suite.ts';
import { test as collected } from '../../conformance/uvu.ts';
import { assertClose } from '../../engine/check.ts';

const tol = { atol: 1e-3, rtol: 0 };

test('runConformance: worst comparison per test, failures, throws, tests without comparisons left out', async () => {
  const order: string[] = [];
  const fake = async () => {
    collected.before(() => void order.push('before'));
    collected('two checks, the second closer to its tolerance', () => {
      assertClose('small', [1, 2], [1, 2.0001], tol); // 1e-4 of 1e-3 allowed
      assertClose('larger', [5], [5.0005], tol); // 5e-4 of 1e-3
    });
    collected('over tolerance', () => void assertClose('bad', [0, 1], [0, 1.01], tol));
    collected('throws before comparing', () => {
      throw new Error('kernel exploded\nsecond line');
    });
    collected('compares nothing', () => void order.push('ran'));
    collected.after(() => void order.push('after'));
    collected.run();
  };
  const seen: string[] = [];
  const out = await runConformance([{ file: 'test/ops/fake.test.ts', load: fake }], (r) => seen.push(r.name));
  assert.equal(order, ['before', 'ran', 'after']);
  assert.equal(
    out.map((r) => r.name),
    ['fake: two checks, the second closer to its tolerance', 'fake: over tolerance', 'fake: throws before comparing'],
  );
  assert.equal(
    seen,
    out.map((r) => r.name),
  );
  const [ok, over, threw] = out;
  assert.ok(ok.pass);
  assert.is(ok.checks, 2);
  assert.is(ok.worstLabel, 'larger');
  assert.ok(Math.abs(ok.worstError - 5e-4) < 1e-9, `worst error ${ok.worstError}`);
  assert.ok(Math.abs(ok.worstRatio - 0.5) < 1e-5, `ratio ${ok.worstRatio}`);
  assert.equal(ok.tolerance, tol);
  assert.not.ok(over.pass);
  assert.ok(over.worstRatio > 9 && over.worstRatio < 11);
  assert.match(over.error ?? '', /^bad: worst abs err/);
  assert.not.ok(threw.pass);
  assert.is(threw.error, 'kernel exploded');
  assert.is(threw.checks, 0);
});

test('a test registered outside a collection is refused with the remedy', () => {
  assert.throws(() => collected('stray', () => {}), /outside conformance collect\(\)/);
});

test.run();
