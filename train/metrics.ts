/**
 * Classification metrics on the host, in float64: accuracy, confusion matrix, one-vs-rest ROC
 * curves and AUC (ties handled), macro AUC, cross-entropy from logits, and seeded bootstrap
 * confidence intervals.
 *
 * Inputs: `logits` or `probs` are row-major [N, C] (one row per image); `labels` are class
 * indices in [0, C).
 */
import { Rng } from '../engine/random.ts';

/** Index of the largest value in each row of a row-major [N, C] array (first one on ties). */
export function argmaxRows(values: ArrayLike<number>, classes: number): Int32Array {
  const n = values.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[i * classes + c] > values[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

/** Softmax of each row, in float64 with the row maximum subtracted (no overflow). */
export function softmaxRows(logits: ArrayLike<number>, classes: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length / classes; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[i * classes + c] = Math.exp(logits[i * classes + c] - max);
    for (let c = 0; c < classes; c++) out[i * classes + c] /= sum;
  }
  return out;
}

/** Mean cross-entropy -log softmax(logits)[label] over the rows. */
export function crossEntropyFromLogits(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[i * classes + c] - max);
    total += max + Math.log(sum) - logits[i * classes + labels[i]];
  }
  return total / labels.length;
}

/** Fraction of predictions equal to the labels, over the rows listed in `rows` (default all). */
export function accuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>, rows?: ArrayLike<number>): number {
  const n = rows ? rows.length : labels.length;
  let right = 0;
  for (let k = 0; k < n; k++) {
    const i = rows ? rows[k] : k;
    if (predicted[i] === labels[i]) right++;
  }
  return n === 0 ? NaN : right / n;
}

/** C x C counts: row = true class, column = predicted class. */
export function confusionMatrix(predicted: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predicted[i]]++;
  return m;
}

/**
 * Area under the ROC curve of `scores` for the binary task "is positive", by the rank-sum
 * (Mann-Whitney) formula with tied scores given their average rank: the probability that a
 * random positive outscores a random negative, ties counting one half. This equals the
 * trapezoid area under the curve of `rocCurve`. NaN when either class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>, rows?: ArrayLike<number>): number {
  const n = rows ? rows.length : scores.length;
  const items: { s: number; p: boolean }[] = [];
  for (let k = 0; k < n; k++) {
    const i = rows ? rows[k] : k;
    items.push({ s: scores[i], p: positive[i] });
  }
  items.sort((a, b) => a.s - b.s);
  let nPos = 0;
  let rankSumPos = 0;
  for (let start = 0; start < items.length;) {
    let end = start;
    while (end < items.length && items[end].s === items[start].s) end++;
    // Ranks start..end-1 (1-based: start+1..end) share the average (start + 1 + end) / 2.
    const avgRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) {
      if (items[k].p) {
        nPos++;
        rankSumPos += avgRank;
      }
    }
    start = end;
  }
  const nNeg = items.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export interface RocPoint {
  fpr: number;
  tpr: number;
}

/**
 * ROC curve: one point per distinct score threshold, from (0,0) to (1,1). Tied scores move
 * the curve diagonally in one step, which is what makes its trapezoid area the tie-aware AUC.
 */
export function rocCurve(scores: ArrayLike<number>, positive: ArrayLike<boolean>): RocPoint[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let nPos = 0;
  for (let i = 0; i < positive.length; i++) if (positive[i]) nPos++;
  const nNeg = scores.length - nPos;
  const points: RocPoint[] = [{ fpr: 0, tpr: 0 }];
  let tp = 0,
    fp = 0;
  for (let k = 0; k < order.length;) {
    const s = scores[order[k]];
    while (k < order.length && scores[order[k]] === s) {
      if (positive[order[k]]) tp++;
      else fp++;
      k++;
    }
    points.push({ fpr: nNeg ? fp / nNeg : 0, tpr: nPos ? tp / nPos : 0 });
  }
  return points;
}

/** Trapezoid area under a curve of points sorted by fpr. */
export function trapezoidArea(points: RocPoint[]): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) area += ((points[i].fpr - points[i - 1].fpr) * (points[i].tpr + points[i - 1].tpr)) / 2;
  return area;
}

/** Per-class one-vs-rest AUC of class probabilities [N, C] (NaN for a class absent or alone). */
export function perClassAuc(probs: ArrayLike<number>, labels: ArrayLike<number>, classes: number, rows?: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let c = 0; c < classes; c++) {
    const scores = new Float64Array(labels.length);
    const positive = new Array<boolean>(labels.length);
    for (let i = 0; i < labels.length; i++) {
      scores[i] = probs[i * classes + c];
      positive[i] = labels[i] === c;
    }
    out.push(rocAuc(scores, positive, rows));
  }
  return out;
}

/** Mean of the defined per-class AUCs (NaN when none is defined). */
export function macroAuc(aucs: number[]): number {
  const defined = aucs.filter((a) => !Number.isNaN(a));
  return defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : NaN;
}

export interface Interval {
  low: number;
  high: number;
}

/**
 * Percentile bootstrap confidence interval of a statistic over n items: `resamples` times,
 * draw n row indices with replacement (seeded), evaluate `statistic(rows)`; the interval is the
 * (1-level)/2 and (1+level)/2 quantiles (linear interpolation) of the defined values.
 */
export function bootstrapCI(
  n: number,
  statistic: (rows: Int32Array) => number,
  opts: { resamples?: number; seed?: number; level?: number } = {},
): Interval {
  const resamples = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  const rng = new Rng(opts.seed ?? 0);
  const values: number[] = [];
  const rows = new Int32Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) rows[i] = rng.int(n);
    const v = statistic(rows);
    if (!Number.isNaN(v)) values.push(v);
  }
  if (values.length === 0) return { low: NaN, high: NaN };
  values.sort((a, b) => a - b);
  return { low: quantile(values, (1 - level) / 2), high: quantile(values, (1 + level) / 2) };
}

/** Quantile q of sorted values, interpolating linearly between neighbours. */
export function quantile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

export interface ClassificationReport {
  count: number;
  loss: number;
  accuracy: number;
  accuracyCI: [number, number];
  perClassAuc: number[];
  macroAuc: number;
  macroAucCI: [number, number];
  confusion: number[][];
  /** One ROC curve per class (one-vs-rest). */
  roc: RocPoint[][];
  /** Per image, in the split's order: the predicted class and the true one (for paired comparisons between models). */
  predicted: number[];
  labels: number[];
}

/** Everything `rbd eval` reports for one split, from logits [N, C] and labels. */
export function classificationReport(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  opts: { resamples?: number; seed?: number } = {},
): ClassificationReport {
  const n = labels.length;
  const probs = softmaxRows(logits, classes);
  const predicted = argmaxRows(probs, classes);
  const aucs = perClassAuc(probs, labels, classes);
  const accCI = bootstrapCI(n, (rows) => accuracy(predicted, labels, rows), opts);
  const aucCI = bootstrapCI(n, (rows) => macroAuc(perClassAuc(probs, labels, classes, rows)), opts);
  const roc: RocPoint[][] = [];
  for (let c = 0; c < classes; c++) {
    const scores = Array.from({ length: n }, (_, i) => probs[i * classes + c]);
    roc.push(
      rocCurve(
        scores,
        Array.from({ length: n }, (_, i) => labels[i] === c),
      ),
    );
  }
  return {
    count: n,
    loss: crossEntropyFromLogits(logits, labels, classes),
    accuracy: accuracy(predicted, labels),
    accuracyCI: [accCI.low, accCI.high],
    perClassAuc: aucs,
    macroAuc: macroAuc(aucs),
    macroAucCI: [aucCI.low, aucCI.high],
    confusion: confusionMatrix(predicted, labels, classes),
    roc,
    predicted: Array.from(predicted),
    labels: Array.from(labels),
  };
}
