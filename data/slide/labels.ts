/**
 * Slide labels and splits. The labels CSV has a header with columns `slide,label` and
 * optionally `split` (train, val or test) and `patient`; `slide` is the slide's file name with
 * or without its extension. Splits are drawn by patient (or by slide when no patient is given):
 * every slide of a patient, hence every tile of a slide, falls in one split. A split given in
 * the CSV is kept; when patients' rows disagree, that is an error naming them.
 */
import { readFileSync } from 'node:fs';
import { DataError } from '../errors.ts';
import { hashSeed } from '../seed.ts';
import { slideId } from './slide.ts';

export const LABELLED_SPLITS = ['train', 'val', 'test'] as const;
export type LabelledSplit = (typeof LABELLED_SPLITS)[number];

export interface SlideLabel {
  slide: string;
  label: string;
  patient: string;
  split?: LabelledSplit;
}

/** Parse a labels CSV (comma separated, optional double quotes). Keys are slide ids (no extension). */
export function readLabels(path: string): Map<string, SlideLabel> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read labels ${path}: ${(e as Error).message}`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0)
    throw new DataError(`labels ${path} is empty; expected a header 'slide,label[,split][,patient]' and one row per slide`);
  const header = splitCsv(lines[0]).map((h) => h.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  if (col('slide') < 0 || col('label') < 0)
    throw new DataError(`labels ${path}: the header must name columns 'slide' and 'label' (found: ${header.join(', ')})`);
  const out = new Map<string, SlideLabel>();
  for (let i = 1; i < lines.length; i++) {
    const cells = splitCsv(lines[i]).map((c) => c.trim());
    const at = (name: string) => (col(name) >= 0 ? (cells[col(name)] ?? '') : '');
    const slide = slideId(at('slide'));
    const label = at('label');
    if (!slide) throw new DataError(`labels ${path} line ${i + 1}: empty slide name`);
    if (out.has(slide)) throw new DataError(`labels ${path} line ${i + 1}: slide '${slide}' appears twice`);
    const split = at('split').toLowerCase();
    if (split && !(LABELLED_SPLITS as readonly string[]).includes(split))
      throw new DataError(`labels ${path} line ${i + 1}: split '${split}' is not train, val or test`);
    if (label && /[\\/]/.test(label))
      throw new DataError(`labels ${path} line ${i + 1}: label '${label}' would be a folder path; use a plain class name`);
    out.set(slide, { slide, label, patient: at('patient') || slide, split: (split || undefined) as LabelledSplit | undefined });
  }
  return out;
}

function splitCsv(line: string): string[] {
  const cells: string[] = [];
  let cur = '',
    quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      cells.push(cur);
      cur = '';
    } else cur += ch;
  }
  cells.push(cur);
  return cells;
}

/**
 * Split per slide id. Patients (or slides without patient) that the CSV does not place are
 * shuffled by `seed` and cut into train/val/test by `fractions`, per class (stratified); the
 * cut rounds so that every split with a nonzero fraction gets a patient of a class that has at
 * least three.
 */
export function assignSplits(
  labels: SlideLabel[],
  seed: number,
  fractions: [number, number, number] = [0.7, 0.15, 0.15],
): Map<string, LabelledSplit> {
  const byPatient = new Map<string, SlideLabel[]>();
  for (const l of labels) byPatient.set(l.patient, [...(byPatient.get(l.patient) ?? []), l]);
  const out = new Map<string, LabelledSplit>();
  const free: string[] = [];
  for (const [patient, rows] of byPatient) {
    const given = new Set(rows.map((r) => r.split).filter(Boolean));
    if (given.size > 1)
      throw new DataError(
        `labels: patient '${patient}' has slides in more than one split (${[...given].join(', ')}); a patient's slides must share one split`,
      );
    const split = [...given][0];
    if (split) for (const r of rows) out.set(r.slide, split);
    else free.push(patient);
  }
  // Stratified by label: each class's patients (a patient with slides of several classes counts
  // under their set) are shuffled and cut separately, so every split sees every class it can.
  const strata = new Map<string, string[]>();
  for (const patient of free) {
    const key = [...new Set(byPatient.get(patient)!.map((r) => r.label))].sort().join('+');
    strata.set(key, [...(strata.get(key) ?? []), patient]);
  }
  const total = fractions[0] + fractions[1] + fractions[2];
  for (const [key, patients] of [...strata].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    patients.sort((a, b) => hashSeed(seed, ...codes(key), ...codes(a)) - hashSeed(seed, ...codes(key), ...codes(b)) || (a < b ? -1 : 1));
    const n = patients.length;
    let nVal = Math.round((n * fractions[1]) / total),
      nTest = Math.round((n * fractions[2]) / total);
    if (n >= 3) {
      if (fractions[1] > 0) nVal = Math.max(1, nVal);
      if (fractions[2] > 0) nTest = Math.max(1, nTest);
    }
    patients.forEach((patient, i) => {
      const split: LabelledSplit = i < nTest ? 'test' : i < nTest + nVal ? 'val' : 'train';
      for (const r of byPatient.get(patient)!) out.set(r.slide, split);
    });
  }
  return out;
}

function codes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  return out;
}
