/**
 * A cheap proxy for "how much class information a magnification carries": simple image
 * statistics per tile and a Gaussian naive Bayes classifier on them. Used by the synth test to check that the top magnification
 * separates the classes better than the lowest.
 */
import type { RgbImage } from '../../data/image.ts';

/**
 * Per tile: channel means and stds, mean gradient magnitude, fractions of dark and of bright
 * pixels, the fraction of dark pixels whose four neighbours are dark too (large dark blobs,
 * i.e. big nuclei, have more interior), and the spread of grey levels among dark pixels
 * (chromatin texture).
 */
export function imageFeatures(img: RgbImage): number[] {
  const n = img.width * img.height;
  const sums = [0, 0, 0],
    squares = [0, 0, 0];
  const gray = new Float64Array(n);
  let dark = 0,
    bright = 0;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      const v = img.data[3 * p + c] / 255;
      sums[c] += v;
      squares[c] += v * v;
    }
    gray[p] = (img.data[3 * p] + img.data[3 * p + 1] + img.data[3 * p + 2]) / (3 * 255);
    if (gray[p] < 0.35) dark++;
    if (gray[p] > 0.8) bright++;
  }
  let gradient = 0;
  for (let y = 0; y + 1 < img.height; y++) {
    for (let x = 0; x + 1 < img.width; x++) {
      const p = y * img.width + x;
      gradient += Math.abs(gray[p + 1] - gray[p]) + Math.abs(gray[p + img.width] - gray[p]);
    }
  }
  let interior = 0;
  for (let y = 1; y + 1 < img.height; y++) {
    for (let x = 1; x + 1 < img.width; x++) {
      const p = y * img.width + x;
      if (gray[p] < 0.35 && gray[p - 1] < 0.35 && gray[p + 1] < 0.35 && gray[p - img.width] < 0.35 && gray[p + img.width] < 0.35)
        interior++;
    }
  }
  // Chromatin: spread of grey levels among dark (nuclear) pixels.
  let darkSum = 0,
    darkSquares = 0;
  for (let p = 0; p < n; p++) {
    if (gray[p] < 0.35) {
      darkSum += gray[p];
      darkSquares += gray[p] * gray[p];
    }
  }
  const darkMean = darkSum / Math.max(1, dark);
  const darkSpread = Math.sqrt(Math.max(0, darkSquares / Math.max(1, dark) - darkMean * darkMean));
  const means = sums.map((s) => s / n);
  const stds = squares.map((s, c) => Math.sqrt(Math.max(0, s / n - means[c] ** 2)));
  return [
    ...means,
    ...stds,
    gradient / ((img.width - 1) * (img.height - 1)),
    dark / n,
    bright / n,
    interior / Math.max(1, dark),
    darkSpread,
  ];
}

/**
 * Rows are [label, ...features]. Accuracy on `test` of a Gaussian naive Bayes classifier
 * fitted on `train`: per class and feature a mean and a variance (floored at 1e-6 of the
 * feature's overall variance so a constant feature cannot dominate), equal priors.
 */
export function naiveBayesAccuracy(train: number[][], test: number[][]): number {
  const dims = train[0].length - 1;
  const overall = new Array(dims).fill(0).map((_, d) => variance(train.map((r) => r[d + 1])));
  const labels = [...new Set(train.map((r) => r[0]))];
  const models = labels.map((label) => {
    const rows = train.filter((r) => r[0] === label);
    return new Array(dims).fill(0).map((_, d) => {
      const values = rows.map((r) => r[d + 1]);
      return { mean: values.reduce((a, b) => a + b, 0) / values.length, variance: Math.max(variance(values), 1e-6 * overall[d] + 1e-12) };
    });
  });
  let correct = 0;
  for (const r of test) {
    let best = 0,
      bestScore = -Infinity;
    models.forEach((m, k) => {
      let score = 0;
      for (let d = 0; d < dims; d++) score -= 0.5 * Math.log(m[d].variance) + (r[d + 1] - m[d].mean) ** 2 / (2 * m[d].variance);
      if (score > bestScore) {
        bestScore = score;
        best = k;
      }
    });
    if (labels[best] === r[0]) correct++;
  }
  return correct / test.length;
}

function variance(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
}
