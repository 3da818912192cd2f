/**
 * Slide- and patient-level results from tile predictions. A slide's (or patient's) class
 * probabilities are the mean of its tiles' softmax probabilities; its label is its tiles'
 * label (rbd tile gives every tile of a slide the slide's label). Accuracy and macro AUC are
 * computed over slides (patients), and their bootstrap intervals resample slides (patients),
 * not tiles: tiles of one slide are not independent observations.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { accuracy, argmaxRows, bootstrapCI, macroAuc, perClassAuc, softmaxRows } from './metrics.ts';

export interface GroupReport {
  /** Number of slides (patients). */
  n: number;
  accuracy: number;
  accuracyCI: [number, number];
  macroAuc: number;
  macroAucCI: [number, number];
  aggregation: 'mean of tile probabilities';
}

/** Group tile logits [N, C] by `groups[i]`; report over groups. Tiles of one group must share a label. */
export function groupReport(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  groups: string[],
  classes: number,
  opts: { resamples?: number; seed?: number } = {},
): GroupReport {
  const probs = softmaxRows(logits, classes);
  const index = new Map<string, number>();
  const sums: number[][] = [];
  const counts: number[] = [];
  const groupLabels: number[] = [];
  groups.forEach((g, i) => {
    let k = index.get(g);
    if (k === undefined) {
      k = sums.length;
      index.set(g, k);
      sums.push(new Array(classes).fill(0));
      counts.push(0);
      groupLabels.push(labels[i]);
    } else if (groupLabels[k] !== labels[i]) {
      throw new Error(
        `'${g}' has tiles of two classes (${groupLabels[k]} and ${labels[i]}); slide- and patient-level results need one label per slide and patient`,
      );
    }
    for (let c = 0; c < classes; c++) sums[k][c] += probs[i * classes + c];
    counts[k]++;
  });
  const n = sums.length;
  const mean = new Float64Array(n * classes);
  for (let k = 0; k < n; k++) for (let c = 0; c < classes; c++) mean[k * classes + c] = sums[k][c] / counts[k];
  const predicted = argmaxRows(mean, classes);
  const acc = bootstrapCI(n, (rows) => accuracy(predicted, groupLabels, rows), opts);
  const auc = bootstrapCI(n, (rows) => macroAuc(perClassAuc(mean, groupLabels, classes, rows)), opts);
  return {
    n,
    accuracy: accuracy(predicted, groupLabels),
    accuracyCI: [acc.low, acc.high],
    macroAuc: macroAuc(perClassAuc(mean, groupLabels, classes)),
    macroAucCI: [auc.low, auc.high],
    aggregation: 'mean of tile probabilities',
  };
}

/** Tile name -> slide id and patient, from an `rbd tile` manifest; null when the data has none. */
export function tileOwners(root: string): Map<string, { slide: string; patient: string }> | null {
  const path = join(root, 'manifest.json');
  if (!existsSync(path)) return null;
  const m = JSON.parse(readFileSync(path, 'utf8')) as {
    tiles?: { name: string; slide: string }[];
    slides?: { id: string; patient?: string | null }[];
  };
  if (!Array.isArray(m.tiles) || !Array.isArray(m.slides)) return null;
  const patient = new Map(m.slides.map((s) => [s.id, s.patient ?? s.id]));
  return new Map(m.tiles.map((t) => [t.name, { slide: t.slide, patient: patient.get(t.slide) ?? t.slide }]));
}
