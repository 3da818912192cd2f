/**
 * Paired comparisons between two models scored on the same test images.
 *
 * Two models' accuracies on one test set are correlated (both get the easy images right), so
 * two marginal intervals that overlap say little about their difference. The paired bootstrap
 * resamples the images once per round and scores both models on that resample: the interval
 * of the difference then carries only the images on which the two disagree.
 */
import { bootstrapCI } from './metrics.ts';

export interface PairedDifference {
  /** accuracy(a) - accuracy(b) on all images. */
  diff: number;
  /** Percentile bootstrap interval of the difference (level, default 95%). */
  ci: [number, number];
}

/**
 * Paired bootstrap of accuracy(a) - accuracy(b): `correctA[i]` and `correctB[i]` say whether
 * each model got image i right (the same images, in the same order). Seeded: the same inputs
 * and seed give the same interval.
 */
export function pairedBootstrap(
  correctA: ArrayLike<boolean>,
  correctB: ArrayLike<boolean>,
  opts: { resamples?: number; seed?: number; level?: number } = {},
): PairedDifference {
  const n = correctA.length;
  if (correctB.length !== n)
    throw new Error(
      `paired bootstrap: the two models were scored on different numbers of images (${n} and ${correctB.length}); compare them on the same test split`,
    );
  if (n === 0) return { diff: NaN, ci: [NaN, NaN] };
  // Per image: +1 where only a is right, -1 where only b is, 0 where they agree.
  const delta = new Int8Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    delta[i] = (correctA[i] ? 1 : 0) - (correctB[i] ? 1 : 0);
    total += delta[i];
  }
  const interval = bootstrapCI(
    n,
    (rows) => {
      let s = 0;
      for (let k = 0; k < rows.length; k++) s += delta[rows[k]];
      return s / rows.length;
    },
    opts,
  );
  return { diff: total / n, ci: [interval.low, interval.high] };
}

/** Which test images a model got right, from its per-image predictions and the labels. */
export function correctness(predicted: ArrayLike<number>, labels: ArrayLike<number>): boolean[] {
  if (predicted.length !== labels.length) throw new Error(`correctness: ${predicted.length} predictions for ${labels.length} labels`);
  return Array.from(labels, (label, i) => predicted[i] === label);
}

/** One row of results.json `comparisons`: arm a minus arm b at one magnification. */
export interface Comparison {
  mag: number;
  a: string;
  b: string;
  diff: number;
  ci: [number, number];
}

/** A model's test predictions, as the comparisons need them. */
export interface ScoredArm {
  mag: number;
  arm: string;
  predicted: number[];
  labels: number[];
}

/**
 * The paired comparisons of the study, at every student magnification where both arms exist:
 * kd - baseline, kd+unlabeled - baseline, kd+unlabeled - teacher (the teacher at its own
 * magnification, on the same tiles), ceiling - kd+unlabeled.
 */
export const COMPARISON_PAIRS: [string, string][] = [
  ['kd', 'baseline'],
  ['kd+unlabeled', 'baseline'],
  ['kd+unlabeled', 'teacher'],
  ['ceiling', 'kd+unlabeled'],
];

export function compareArms(
  arms: ScoredArm[],
  teacherArm: string,
  studentMags: number[],
  opts: { resamples?: number; seed?: number } = {},
): Comparison[] {
  const out: Comparison[] = [];
  const find = (mag: number, arm: string) => arms.find((x) => x.arm === arm && (arm === teacherArm || x.mag === mag));
  for (const mag of studentMags) {
    for (const [a, b] of COMPARISON_PAIRS) {
      const x = find(mag, a),
        y = find(mag, b);
      if (!x || !y) continue;
      const same = x.labels.length === y.labels.length && x.labels.every((l, i) => l === y.labels[i]);
      if (!same)
        throw new Error(
          `paired comparison ${a} - ${b} at ${mag}x: the two arms were scored on different test images (labels differ); evaluate both on the same test split`,
        );
      const d = pairedBootstrap(correctness(x.predicted, x.labels), correctness(y.predicted, y.labels), opts);
      out.push({ mag, a, b, diff: d.diff, ci: d.ci });
    }
  }
  return out;
}

export type Verdict = 'agrees' | 'does not agree' | 'inconclusive' | 'not tested' | 'not testable';

/**
 * A claim that "a - b > margin" judged on the paired interval: it agrees when the whole
 * interval lies above the margin, does not agree when the whole interval lies at or below it,
 * and is inconclusive when the interval straddles it.
 */
export function verdictAbove(ci: [number, number], margin: number): Verdict {
  if (!ci.every(Number.isFinite)) return 'not tested';
  if (ci[0] > margin) return 'agrees';
  if (ci[1] <= margin) return 'does not agree';
  return 'inconclusive';
}
