/**
 * `rbd eval`: a checkpoint on the splits of a data set, at the checkpoint's magnification (or
 * another one): loss, accuracy, per-class one-vs-rest AUC, macro AUC, confusion matrix and
 * seeded bootstrap 95% intervals; a printed table, eval.json, and per split an ROC plot and a
 * confusion-matrix plot (SVG).
 */
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadCheckpoint } from '../models/checkpoint.ts';
import { magName } from '../data/mag.ts';
import { writeFileAtomic, writeJson } from '../util/files.ts';
import { rocChart, confusionChart } from '../util/svg.ts';
import { predict, resolutionOf, type ResolutionRecord } from './common.ts';
import { classificationReport } from './metrics.ts';
import { groupReport, tileOwners, type GroupReport } from './group_metrics.ts';
import { openDataSource, type SplitName, type DataSource } from '../data/loader.ts';
import type { ClassificationReport } from './metrics.ts';
import { textTable, numericColumns, fmtPercent } from '../util/table.ts';

export interface EvalOptions {
  checkpoint: string;
  data: string;
  splits: SplitName[];
  /** Magnification name; '' = the checkpoint's own. */
  mag: string;
  batch: number;
  resamples: number;
  seed: number;
  /** Folder for eval.json and the plots; null = <checkpoint folder>/eval-<mag>; '' = none written. */
  out: string | null;
  allowUpsampled: boolean;
  /** Skip unreadable images (each named once in a warning) instead of stopping. */
  skipBad: boolean;
}

export interface EvalResult {
  checkpoint: string;
  mag: string;
  resolution: ResolutionRecord;
  classes: string[];
  resamples: number;
  seed: number;
  /** Per split; with an rbd tile manifest also slide- and patient-level results. */
  splits: Record<string, ClassificationReport & { slides?: GroupReport; patients?: GroupReport; patientsSkipped?: string }>;
}

export async function evaluateCheckpoint(o: EvalOptions, preopened?: DataSource): Promise<EvalResult> {
  if (!existsSync(o.checkpoint))
    throw new Error(`checkpoint ${o.checkpoint} does not exist; pass the best.safetensors or model.safetensors of a training run`);
  const data = preopened ?? (await openDataSource(o.data, { skipBad: o.skipBad }));
  const { model, info } = loadCheckpoint(o.checkpoint);
  try {
    const same = info.classNames.length === data.classes.length && info.classNames.every((c, i) => c === data.classes[i]);
    if (!same)
      throw new Error(
        `checkpoint ${o.checkpoint} has classes [${info.classNames.join(', ')}] but the data at ${data.root} has [${data.classes.join(', ')}]; evaluate on data with the same classes`,
      );
    const mag = o.mag || (info.magnification !== null ? magName(info.magnification) : '');
    if (!mag) throw new Error(`checkpoint ${o.checkpoint} does not record its magnification; pass --mag`);
    const resolution = resolutionOf(data, mag, model.arch, o.allowUpsampled);
    const splits: EvalResult['splits'] = {};
    const owners = tileOwners(data.root);
    const opts = { resamples: o.resamples, seed: o.seed };
    for (const split of o.splits) {
      // Images skipped as unreadable (--skip-bad) are not in refs.
      const { logits, refs } = await predict(model, data, mag, data.samples(split), o.batch);
      const labels = refs.map((s) => s.label);
      splits[split] = classificationReport(logits, labels, data.classes.length, opts);
      if (owners) {
        const owner = refs.map((s) => {
          const name = s.key.split('/').pop()!;
          const found = owners.get(name);
          if (!found)
            throw new Error(
              `tile '${s.key}' of the ${split} split is not in ${data.root}/manifest.json; re-run rbd tile, or remove the manifest's tiles[] to evaluate per tile only`,
            );
          return found;
        });
        splits[split].slides = groupReport(
          logits,
          labels,
          owner.map((w) => w.slide),
          data.classes.length,
          opts,
        );
        try {
          splits[split].patients = groupReport(
            logits,
            labels,
            owner.map((w) => w.patient),
            data.classes.length,
            opts,
          );
        } catch (e) {
          // A patient with slides of two classes has no patient-level label.
          splits[split].patientsSkipped = (e as Error).message;
        }
      }
    }
    const result: EvalResult = {
      checkpoint: o.checkpoint,
      mag,
      resolution,
      classes: data.classes,
      resamples: o.resamples,
      seed: o.seed,
      splits,
    };
    const out = o.out ?? join(dirname(o.checkpoint), `eval-${mag}`);
    if (out) writeEvalFiles(out, result);
    return result;
  } finally {
    model.dispose();
  }
}

/** eval.json plus roc-<split>.svg and confusion-<split>.svg. */
export function writeEvalFiles(dir: string, r: EvalResult) {
  writeJson(join(dir, 'eval.json'), r);
  for (const [split, rep] of Object.entries(r.splits)) {
    writeFileAtomic(join(dir, `roc-${split}.svg`), rocChart(rep.roc, r.classes, rep.perClassAuc, `ROC, ${split} split, ${r.mag}`) + '\n');
    writeFileAtomic(
      join(dir, `confusion-${split}.svg`),
      confusionChart(rep.confusion, r.classes, `Confusion matrix, ${split} split, ${r.mag}`) + '\n',
    );
  }
}

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

/** The printed tables: one row per split, then per-class AUCs and the confusion matrices. */
export function formatEval(r: EvalResult): string {
  const lines: string[] = [];
  lines.push(
    `${r.checkpoint} at ${r.mag} (input ${r.resolution.inputSize} px, ${r.resolution.micronsPerPixel} um/px); 95% CIs from ${r.resamples} bootstrap resamples, seed ${r.seed}`,
  );
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const [split, s] of Object.entries(r.splits)) {
    rows.push([
      split,
      String(s.count),
      f3(s.loss),
      fmtPercent(s.accuracy),
      `[${fmtPercent(s.accuracyCI[0])}, ${fmtPercent(s.accuracyCI[1])}]`,
      f3(s.macroAuc),
      `[${f3(s.macroAucCI[0])}, ${f3(s.macroAucCI[1])}]`,
    ]);
    for (const [level, g] of [
      ['slides', s.slides],
      ['patients', s.patients],
    ] as const) {
      if (g)
        rows.push([
          `  ${level}`,
          String(g.n),
          '',
          fmtPercent(g.accuracy),
          `[${fmtPercent(g.accuracyCI[0])}, ${fmtPercent(g.accuracyCI[1])}]`,
          f3(g.macroAuc),
          `[${f3(g.macroAucCI[0])}, ${f3(g.macroAucCI[1])}]`,
        ]);
    }
    if (s.patientsSkipped) notes.push(`${split} patients: not reported (${s.patientsSkipped})`);
  }
  lines.push(textTable(['split', 'n', 'loss', 'accuracy', 'acc 95% CI', 'macro AUC', 'AUC 95% CI'], rows, new Set([1, 2, 3, 5])), ...notes);
  if (Object.values(r.splits).some((s) => s.slides))
    lines.push(
      "slides, patients (under their split): class probabilities = mean of their tiles' probabilities; CIs resample slides (patients), not tiles",
    );
  for (const [split, s] of Object.entries(r.splits)) {
    lines.push(`\n${split}: one-vs-rest AUC ${r.classes.map((c, i) => `${c} ${f3(s.perClassAuc[i])}`).join(', ')}`);
    lines.push(`${split}: confusion matrix (rows true, columns predicted)`);
    lines.push(
      textTable(
        ['', ...r.classes],
        s.confusion.map((row, i) => [r.classes[i], ...row.map(String)]),
        numericColumns(r.classes.length + 1),
      ),
    );
  }
  return lines.join('\n');
}
