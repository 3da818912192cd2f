/** Paired bootstrap and the study's comparisons, against cases worked out by hand (in the comments). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pairedBootstrap, correctness, compareArms, verdictAbove, type ScoredArm } from '../../train/paired.ts';
import { bootstrapCI, accuracy } from '../../train/metrics.ts';

const near = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (tol ${tol})`);
const bools = (n: number, right: (i: number) => boolean) => Array.from({ length: n }, (_, i) => right(i));

test('identical models: difference 0 and interval [0, 0] on every resample', () => {
  const a = bools(50, (i) => i % 3 !== 0);
  assert.equal(pairedBootstrap(a, a, { seed: 1 }), { diff: 0, ci: [0, 0] });
});

test('a right everywhere, b nowhere: difference 1, interval [1, 1]; reversed -1', () => {
  const a = bools(20, () => true),
    b = bools(20, () => false);
  assert.equal(pairedBootstrap(a, b, { seed: 2 }), { diff: 1, ci: [1, 1] });
  assert.equal(pairedBootstrap(b, a, { seed: 2 }), { diff: -1, ci: [-1, -1] });
});

test('4 images, the models differ on one (a right): difference 1/4, interval [0, 3/4]', () => {
  // The difference on a resample is (times the one differing image is drawn) / 4, with the
  // count Binomial(4, 1/4): P(<=0) = 0.316, P(<=1) = 0.738, P(<=2) = 0.949, P(<=3) = 0.996.
  // The 2.5% quantile is therefore 0 and the 97.5% quantile 3 draws = 3/4 (0.949 < 0.975 < 0.996,
  // far enough from both that 4000 resamples cannot land elsewhere).
  const a = [true, true, false, true],
    b = [true, false, false, true];
  const d = pairedBootstrap(a, b, { seed: 5, resamples: 4000 });
  near(d.diff, 0.25);
  assert.equal(d.ci, [0, 0.75]);
});

test('pairing matters: a right on 60 of 100, b on 50 of those: paired interval excludes 0 though the marginal ones overlap', () => {
  // a - b on a resample is (draws among the 10 images only a gets right) / 100, with the count
  // Binomial(100, 0.1): 2.5% quantile 4 or 5 (P(<=4) = 0.024, P(<=5) = 0.058), 97.5% quantile
  // 16 (P(<=15) = 0.960, P(<=16) = 0.979). Allow one count either side for resampling noise.
  const a = bools(100, (i) => i < 60),
    b = bools(100, (i) => i < 50);
  const d = pairedBootstrap(a, b, { seed: 7, resamples: 4000 });
  near(d.diff, 0.1);
  assert.ok(d.ci[0] >= 0.03 && d.ci[0] <= 0.06, `low ${d.ci[0]}`);
  assert.ok(d.ci[1] >= 0.15 && d.ci[1] <= 0.17, `high ${d.ci[1]}`);
  // The marginal intervals (about +-0.1 each) overlap: read side by side they would call it a tie.
  const ones = bools(100, () => true);
  const labels = ones.map(() => 1);
  const ma = bootstrapCI(100, (rows) => accuracy(a.map(Number), labels, rows), { seed: 7 });
  const mb = bootstrapCI(100, (rows) => accuracy(b.map(Number), labels, rows), { seed: 7 });
  assert.ok(ma.low < mb.high, `marginal intervals do not overlap: ${JSON.stringify([ma, mb])}`);
});

test('same seed, same interval; different lengths are refused', () => {
  const a = bools(37, (i) => i % 2 === 0),
    b = bools(37, (i) => i % 5 !== 0);
  assert.equal(pairedBootstrap(a, b, { seed: 9 }), pairedBootstrap(a, b, { seed: 9 }));
  assert.throws(() => pairedBootstrap(a, b.slice(1)), /different numbers of images/);
});

test('correctness compares predictions with labels', () => {
  assert.equal(correctness([0, 2, 1, 1], [0, 1, 1, 2]), [true, false, true, false]);
});

test('compareArms: the four pairs at each student magnification, the teacher taken at its own magnification', () => {
  const labels = [0, 1, 2, 0, 1, 2, 0, 1];
  const arm = (mag: number, name: string, predicted: number[]): ScoredArm => ({ mag, arm: name, predicted, labels });
  const arms = [
    arm(10, 'teacher', [0, 1, 2, 0, 1, 2, 0, 1]), // 8/8
    arm(5, 'baseline', [0, 0, 0, 0, 1, 2, 0, 1]), // 6/8
    arm(5, 'kd', [0, 1, 0, 0, 1, 2, 0, 1]), // 7/8
    arm(5, 'kd+unlabeled', [0, 1, 2, 0, 1, 2, 0, 0]), // 7/8
    arm(5, 'ceiling', [0, 1, 2, 0, 1, 2, 0, 1]), // 8/8
    arm(2.5, 'baseline', [1, 1, 2, 0, 1, 2, 0, 1]), // 7/8; no kd arms at 2.5x
  ];
  const c = compareArms(arms, 'teacher', [5, 2.5], { seed: 1 });
  assert.equal(
    c.map((x) => [x.mag, x.a, x.b, x.diff]),
    [
      [5, 'kd', 'baseline', 1 / 8],
      [5, 'kd+unlabeled', 'baseline', 1 / 8],
      [5, 'kd+unlabeled', 'teacher', -1 / 8],
      [5, 'ceiling', 'kd+unlabeled', 1 / 8],
    ],
  );
  for (const x of c) assert.ok(x.ci[0] <= x.diff && x.diff <= x.ci[1], JSON.stringify(x));
  const other = [...arms.slice(0, 1), { ...arms[1], labels: [1, 1, 2, 0, 1, 2, 0, 1] }, arms[2]];
  assert.throws(() => compareArms(other, 'teacher', [5]), /different test images/);
});

test('verdictAbove: whole interval above the margin agrees, at or below does not, straddling is inconclusive', () => {
  assert.is(verdictAbove([0.01, 0.08], 0), 'agrees');
  assert.is(verdictAbove([-0.05, -0.01], 0), 'does not agree');
  assert.is(verdictAbove([-0.02, 0.04], 0), 'inconclusive');
  assert.is(verdictAbove([-0.025, 0.01], -0.03), 'agrees');
  assert.is(verdictAbove([-0.1, -0.03], -0.03), 'does not agree');
  assert.is(verdictAbove([NaN, NaN], 0), 'not tested');
});

test.run();
