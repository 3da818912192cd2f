/** Metrics against cases worked out by hand (in the comments), and bootstrap determinism. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  rocAuc,
  rocCurve,
  trapezoidArea,
  perClassAuc,
  macroAuc,
  confusionMatrix,
  accuracy,
  bootstrapCI,
  quantile,
  crossEntropyFromLogits,
  softmaxRows,
  argmaxRows,
  classificationReport,
} from '../../train/metrics.ts';
import { Rng } from '../../engine/random.ts';

const near = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (tol ${tol})`);

test('rocAuc with a tie between a positive and a negative = 11/12', () => {
  // positives: 0.4, 0.8; negatives: 0.1, 0.35, 0.4.
  // Pairs (pos beats neg = 1, tie = 1/2): 0.4 vs {0.1, 0.35, 0.4} = 1 + 1 + 0.5 = 2.5;
  // 0.8 vs all three = 3. AUC = (2.5 + 3) / (2 * 3) = 11/12.
  near(rocAuc([0.1, 0.4, 0.35, 0.8, 0.4], [false, true, false, true, false]), 11 / 12);
});

test('rocAuc: all scores tied = 1/2; perfect separation = 1; reversed = 0; one class only = NaN', () => {
  // Every pair is a tie, each counting 1/2.
  near(rocAuc([0.3, 0.3, 0.3, 0.3], [true, false, true, false]), 0.5);
  near(rocAuc([0.9, 0.1, 0.8], [true, false, true]), 1);
  near(rocAuc([0.1, 0.9, 0.2], [true, false, true]), 0);
  assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [true, true])));
});

test('rocCurve with ties steps diagonally; its trapezoid area equals the rank AUC', () => {
  // Scores 0.8(P) 0.4(P) 0.4(N) 0.35(N) 0.1(N), thresholds from the top:
  // >=0.8: TP 1/2, FP 0; >=0.4: TP 2/2, FP 1/3 (the tie moves both at once); >=0.35: FP 2/3; >=0.1: FP 1.
  const pts = rocCurve([0.1, 0.4, 0.35, 0.8, 0.4], [false, true, false, true, false]);
  const expected = [
    [0, 0],
    [0, 0.5],
    [1 / 3, 1],
    [2 / 3, 1],
    [1, 1],
  ];
  assert.is(pts.length, expected.length);
  pts.forEach((p, i) => {
    near(p.fpr, expected[i][0]);
    near(p.tpr, expected[i][1]);
  });
  // Area: 0 (first segment vertical) + (1/3)(0.5+1)/2 = 1/4, + 1/3 + 1/3 = 11/12, as the pair count.
  near(trapezoidArea(pts), 11 / 12);
  // And on random data with many ties, the two independent computations agree.
  const rng = new Rng(5);
  const scores = Array.from({ length: 300 }, () => Math.round(rng.uniform(0, 10)) / 10);
  const pos = scores.map((s) => rng.next() < 0.3 + 0.4 * s);
  near(trapezoidArea(rocCurve(scores, pos)), rocAuc(scores, pos), 1e-12);
});

test('per-class one-vs-rest AUC and macro AUC, 3 classes, 4 images', () => {
  // probs rows (class 0, 1, 2); labels 0, 1, 2, 1.
  const probs = [
    0.6,
    0.3,
    0.1, // label 0
    0.2,
    0.5,
    0.3, // label 1
    0.3,
    0.3,
    0.4, // label 2
    0.5,
    0.4,
    0.1, // label 1
  ];
  const labels = [0, 1, 2, 1];
  // class 0: positive score 0.6; negatives 0.2, 0.3, 0.5 -> beats all 3 -> AUC 1.
  // class 1: positives 0.5, 0.4; negatives 0.3, 0.3 -> all 4 pairs won -> 1.
  // class 2: positive 0.4; negatives 0.1, 0.3, 0.1 -> 1.
  // Change one row to create losses and ties: image 3 becomes (0.6, 0.3, 0.1) with label 1:
  // class 0: positive 0.6 vs negatives 0.2, 0.3, 0.6 -> 1 + 1 + 0.5 = 2.5 / 3.
  // class 1: positives 0.5, 0.3 vs negatives 0.3, 0.3: 0.5 wins 2; 0.3 ties 2 -> 1; (2 + 1) / 4 = 0.75.
  // class 2: positive 0.4 vs 0.1, 0.3, 0.1 -> 1.
  const aucs = perClassAuc(probs, labels, 3);
  assert.equal(aucs, [1, 1, 1]);
  const probs2 = [...probs.slice(0, 9), 0.6, 0.3, 0.1];
  const aucs2 = perClassAuc(probs2, labels, 3);
  near(aucs2[0], 2.5 / 3);
  near(aucs2[1], 0.75);
  near(aucs2[2], 1);
  near(macroAuc(aucs2), (2.5 / 3 + 0.75 + 1) / 3);
  // A class absent from the labels has no AUC and is left out of the macro mean.
  near(macroAuc([0.5, NaN, 1]), 0.75);
});

test('confusion matrix and accuracy of a known case', () => {
  // labels 0,0,1,2,2,2; predicted 0,1,1,2,0,2.
  // true 0: predicted 0 once, 1 once; true 1: predicted 1 once; true 2: predicted 2 twice, 0 once.
  const m = confusionMatrix([0, 1, 1, 2, 0, 2], [0, 0, 1, 2, 2, 2], 3);
  assert.equal(m, [
    [1, 1, 0],
    [0, 1, 0],
    [1, 0, 2],
  ]);
  // 4 of 6 on the diagonal.
  near(accuracy([0, 1, 1, 2, 0, 2], [0, 0, 1, 2, 2, 2]), 4 / 6);
  // Over rows 1, 1, 2 (a bootstrap resample): wrong, wrong, right -> 1/3.
  near(accuracy([0, 1, 1, 2, 0, 2], [0, 0, 1, 2, 2, 2], [1, 1, 2]), 1 / 3);
});

test('cross-entropy, softmax and argmax of known logits', () => {
  // logits (0, ln 3): softmax (1/4, 3/4); label 1 -> -ln(3/4); label 0 -> -ln(1/4).
  const logits = [0, Math.log(3), 0, Math.log(3)];
  near(crossEntropyFromLogits(logits, [1, 0], 2), (-Math.log(0.75) - Math.log(0.25)) / 2, 1e-12);
  const p = softmaxRows([1000, 1000 + Math.log(3)], 2); // shifted: no overflow
  near(p[0], 0.25);
  near(p[1], 0.75);
  // Ties go to the first maximum.
  assert.equal(Array.from(argmaxRows([1, 3, 3, 2, 0, 1], 3)), [1, 0]);
});

test('quantile interpolates linearly', () => {
  // positions 0..3; q = 0.25 -> position 0.75 -> 1 + 0.75 * (2 - 1) = 1.75.
  near(quantile([1, 2, 3, 4], 0.25), 1.75);
  near(quantile([1, 2, 3, 4], 1), 4);
});

test('bootstrap: same seed same interval; another seed another; degenerate cases', () => {
  const rng = new Rng(11);
  const n = 200;
  const labels = Array.from({ length: n }, () => rng.int(3));
  const predicted = labels.map((l) => (rng.next() < 0.7 ? l : (l + 1) % 3));
  const stat = (rows: Int32Array) => accuracy(predicted, labels, rows);
  const a = bootstrapCI(n, stat, { seed: 3, resamples: 1000 });
  const b = bootstrapCI(n, stat, { seed: 3, resamples: 1000 });
  const c = bootstrapCI(n, stat, { seed: 4, resamples: 1000 });
  assert.equal(a, b);
  assert.ok(a.low !== c.low || a.high !== c.high, 'a different seed should give a different interval');
  const acc = accuracy(predicted, labels);
  assert.ok(a.low < acc && acc < a.high, `interval [${a.low}, ${a.high}] should contain ${acc}`);
  // Independent check of the width: the normal approximation's 95% half-width is
  // 1.96 * sqrt(p (1 - p) / n) (~0.064 at p 0.7, n 200); the percentile bootstrap should be
  // within 25% of it at 1000 resamples (its Monte Carlo error is a few percent).
  const half = 1.96 * Math.sqrt((acc * (1 - acc)) / n);
  const width = (a.high - a.low) / 2;
  assert.ok(Math.abs(width - half) < 0.25 * half, `bootstrap half-width ${width} vs normal ${half}`);
  // All predictions right: every resample scores 1.
  assert.equal(
    bootstrapCI(10, (rows) => accuracy(labels, labels, rows), { seed: 1 }),
    { low: 1, high: 1 },
  );
});

test('classificationReport ties the pieces together (seeded, >= 1000 resamples by default)', () => {
  const rng = new Rng(2);
  const n = 60,
    C = 3;
  const labels = Array.from({ length: n }, () => rng.int(C));
  const logits = labels.flatMap((l) => Array.from({ length: C }, (_, c) => (c === l ? 1 : 0) + rng.normal(0, 1)));
  const r1 = classificationReport(logits, labels, C, { seed: 9 });
  const r2 = classificationReport(logits, labels, C, { seed: 9 });
  assert.equal(r1.accuracyCI, r2.accuracyCI);
  assert.equal(r1.macroAucCI, r2.macroAucCI);
  assert.is(
    r1.confusion.flat().reduce((a, b) => a + b, 0),
    n,
  );
  near(r1.accuracy, r1.confusion.reduce((s, row, i) => s + row[i], 0) / n);
  r1.roc.forEach((curve, c) => near(trapezoidArea(curve), r1.perClassAuc[c], 1e-12));
});

test.run();
