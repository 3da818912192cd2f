/**
 * The study's report: results.json (machine-readable), report.md and report.html (the same
 * content; the HTML inlines its plots). The text compares the measured results with the
 * paper's four headline claims and says, claim by claim, whether they agree.
 */
import { join } from 'node:path';
import { writeJson } from '../util/files.ts';
import { type Block, heading, paragraph, list, table, figure, writeDocument } from '../util/document.ts';
import { lineChart, confusionChart, type Series } from '../util/svg.ts';

export type Arm = 'teacher' | 'baseline' | 'kd' | 'kd+unlabeled';
export const ARMS: Arm[] = ['teacher', 'baseline', 'kd', 'kd+unlabeled'];

export interface StudyRow {
  mag: number;
  arm: Arm;
  /** Forward pass GFLOPs for one tile at this magnification (models/flops.ts, from layer shapes). */
  forwardGflops: number;
  /** Teacher's forward GFLOPs / this row's. */
  costRelativeToTeacher: number;
  /** Inference throughput measured on this adapter (forward only, batched). */
  imagesPerSecond: number;
  /** Side of the square tile the network received, in pixels, and its microns per pixel. */
  inputSize: number;
  micronsPerPixel: number;
  testAccuracy: number;
  testAccuracyCI: [number, number];
  testMacroAuc: number;
  testMacroAucCI: [number, number];
  testLoss: number;
  unlabeledCount: number;
  trainImages: number;
  epochs: number;
  trainSeconds: number;
  confusion: number[][];
  runDir: string;
}

export interface SweepPoint {
  mag: number;
  unlabeledCount: number;
  testAccuracy: number;
  testAccuracyCI: [number, number];
  testMacroAuc: number;
  runDir: string;
}

export interface StudyResults {
  preset: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  expectedSeconds: number;
  adapter: string;
  classes: string[];
  teacherMag: number;
  studentMags: number[];
  data: { dir: string; train: number; val: number; test: number; unlabeled: number; tileMicrons: number; generated: boolean };
  config: Record<string, unknown>;
  rows: StudyRow[];
  sweep: SweepPoint[];
  notes: string[];
}

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');
const ci = (c: [number, number]) => (c.every(Number.isFinite) ? `[${pct(c[0])}, ${pct(c[1])}]` : 'n/a');
const num = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const magLabel = (m: number) => `${m}x`;

function row(r: StudyResults, mag: number, arm: Arm): StudyRow | undefined {
  return r.rows.find((x) => x.mag === mag && x.arm === arm);
}

/** The better of the two distillation arms at a magnification (the paper reports its best student). */
function bestKd(r: StudyResults, mag: number): StudyRow | undefined {
  const cands = [row(r, mag, 'kd'), row(r, mag, 'kd+unlabeled')].filter((x): x is StudyRow => !!x);
  return cands.sort((a, b) => b.testAccuracy - a.testAccuracy)[0];
}

type Verdict = 'agrees' | 'partly agrees' | 'does not agree' | 'not tested' | 'not testable';

interface ClaimCheck { claim: string; measured: string; verdict: Verdict }

/** Compare each headline claim with the measurements; thresholds are stated in the text. */
export function checkClaims(r: StudyResults): ClaimCheck[] {
  const teacher = row(r, r.teacherMag, 'teacher');
  const out: ClaimCheck[] = [];
  const points = (v: number) => `${(100 * v).toFixed(1)} points`;
  // A teacher whose accuracy interval reaches down to chance has nothing to teach: comparing
  // students with it would make "matches the teacher" trivially true.
  const chance = 1 / r.classes.length;
  const teacherLearned = !!teacher && teacher.testAccuracyCI[0] > chance;
  const untestable = (claim: string): ClaimCheck => ({
    claim,
    measured: `the teacher did not learn beyond chance (test accuracy ${pct(teacher?.testAccuracy ?? NaN)}, 95% CI ${teacher ? ci(teacher.testAccuracyCI) : 'n/a'}, chance ${pct(chance)}), so matching it means nothing.`,
    verdict: 'not testable',
  });
  // 1. A student at 4x fewer FLOPs (half the magnification) beats or matches the teacher.
  const half = r.studentMags.find((m) => Math.abs(m - r.teacherMag / 2) < 1e-9);
  const s1 = half !== undefined ? bestKd(r, half) : undefined;
  if (teacher && s1 && !teacherLearned) out.push(untestable('CD: the student beats the high-resolution teacher while needing 4x fewer FLOPs.'));
  else if (teacher && s1) {
    const d = s1.testAccuracy - teacher.testAccuracy;
    out.push({
      claim: 'CD: the student beats the high-resolution teacher while needing 4x fewer FLOPs.',
      measured: `best KD student at ${magLabel(half!)} (${s1.arm}, ${num(teacher.forwardGflops / s1.forwardGflops, 1)}x fewer FLOPs): ${pct(s1.testAccuracy)} vs teacher ${pct(teacher.testAccuracy)} at ${magLabel(r.teacherMag)} (${d >= 0 ? '+' : ''}${points(d)}).`,
      verdict: d >= 0 ? 'agrees' : d >= -0.03 ? 'partly agrees' : 'does not agree',
    });
  } else out.push({ claim: 'CD: the student beats the high-resolution teacher while needing 4x fewer FLOPs.', measured: 'no student at half the teacher magnification was trained.', verdict: 'not tested' });
  // 2. The student at 1/8 the magnification (64x cheaper) is within 3% of the teacher.
  const eighth = r.studentMags.find((m) => Math.abs(m - r.teacherMag / 8) < 1e-9);
  const s2 = eighth !== undefined ? bestKd(r, eighth) : undefined;
  if (teacher && s2 && !teacherLearned) out.push(untestable('LUAD: the 1.25x student is within 3% of the 10x teacher, 64x cheaper.'));
  else if (teacher && s2) {
    const d = s2.testAccuracy - teacher.testAccuracy;
    out.push({
      claim: 'LUAD: the 1.25x student is within 3% of the 10x teacher, 64x cheaper.',
      measured: `best KD student at ${magLabel(eighth!)} (${s2.arm}, ${num(teacher.forwardGflops / s2.forwardGflops, 1)}x fewer FLOPs): ${pct(s2.testAccuracy)} vs teacher ${pct(teacher.testAccuracy)} (${d >= 0 ? '+' : ''}${points(d)}).`,
      verdict: d >= -0.03 ? 'agrees' : d >= -0.06 ? 'partly agrees' : 'does not agree',
    });
  } else out.push({ claim: 'LUAD: the 1.25x student is within 3% of the 10x teacher, 64x cheaper.', measured: 'no student at 1/8 of the teacher magnification was trained.', verdict: 'not tested' });
  // 3. At the lowest magnification, adding unlabeled data improves on the labels-only baseline.
  const lowest = Math.min(...r.studentMags);
  const base = row(r, lowest, 'baseline');
  const unl = row(r, lowest, 'kd+unlabeled');
  if (base && unl) {
    const d = unl.testAccuracy - base.testAccuracy;
    out.push({
      claim: 'CD at the lowest magnification: adding unlabeled data improves accuracy by about 4% over the baseline.',
      measured: `at ${magLabel(lowest)}: KD+unlabeled ${pct(unl.testAccuracy)} vs baseline ${pct(base.testAccuracy)} (${d >= 0 ? '+' : ''}${points(d)}).`,
      verdict: d >= 0.02 ? 'agrees' : d > 0 ? 'partly agrees' : 'does not agree',
    });
  } else out.push({ claim: 'CD at the lowest magnification: adding unlabeled data improves accuracy by about 4% over the baseline.', measured: 'baseline or KD+unlabeled missing.', verdict: 'not tested' });
  // 4. Accuracy grows with the number of unlabeled images (sweep).
  if (r.sweep.length >= 2) {
    const pts = [...r.sweep].sort((a, b) => a.unlabeledCount - b.unlabeledCount);
    const rho = spearman(pts.map((p) => p.unlabeledCount), pts.map((p) => p.testAccuracy));
    const first = pts[0], last = pts[pts.length - 1];
    out.push({
      claim: 'Student accuracy grows with the size of the unlabeled set.',
      measured: `at ${magLabel(pts[0].mag)}: ${pts.map((p) => `${p.unlabeledCount} -> ${pct(p.testAccuracy)}`).join(', ')}; Spearman rank correlation ${num(rho, 2)}; largest minus smallest set ${points(last.testAccuracy - first.testAccuracy)}.`,
      verdict: rho > 0.5 && last.testAccuracy > first.testAccuracy ? 'agrees' : last.testAccuracy > first.testAccuracy ? 'partly agrees' : 'does not agree',
    });
  } else out.push({ claim: 'Student accuracy grows with the size of the unlabeled set.', measured: 'no sweep was run.', verdict: 'not tested' });
  // Claims 3 and 4 are about distillation helping; from a teacher at chance it has nothing to
  // pass on, so their numbers are shown but not judged.
  if (teacher && !teacherLearned) {
    for (const c of out.slice(2)) {
      if (c.verdict === 'not tested') continue;
      c.measured += ' The teacher did not learn beyond chance, so the distilled students had nothing to learn from.';
      c.verdict = 'not testable';
    }
  }
  return out;
}

/** Spearman rank correlation (average ranks for ties); NaN when either side is constant. */
export function spearman(x: number[], y: number[]): number {
  const rank = (v: number[]) => {
    const idx = v.map((_, i) => i).sort((a, b) => v[a] - v[b]);
    const r = new Array<number>(v.length);
    for (let s = 0; s < idx.length; ) {
      let e = s;
      while (e < idx.length && v[idx[e]] === v[idx[s]]) e++;
      for (let k = s; k < e; k++) r[idx[k]] = (s + e - 1) / 2;
      s = e;
    }
    return r;
  };
  const rx = rank(x), ry = rank(y);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const mx = mean(rx), my = mean(ry);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxx && syy ? sxy / Math.sqrt(sxx * syy) : NaN;
}

function studyBlocks(r: StudyResults): Block[] {
  const blocks: Block[] = [];
  const teacher = row(r, r.teacherMag, 'teacher');
  blocks.push(heading(1, `Resolution-based distillation study (${r.preset} preset)`));
  blocks.push(
    paragraph(
      `Run ${r.startedAt} to ${r.finishedAt} (${(r.durationSeconds / 60).toFixed(1)} min; ${(r.expectedSeconds / 60).toFixed(1)} min expected at start) on adapter **${r.adapter}**. ` +
        `Data: \`${r.data.dir}\` (${r.data.generated ? 'generated by this run' : 'already present'}), synthetic H&E-like tiles of ${r.data.tileMicrons} microns, classes ${r.classes.join(', ')}; ` +
        `${r.data.train} labelled training, ${r.data.val} validation, ${r.data.test} test and ${r.data.unlabeled} unlabeled images. ` +
        `Teacher at ${magLabel(r.teacherMag)}; students at ${r.studentMags.map(magLabel).join(', ')}. All numbers are on the test split; confidence intervals are 95% percentile bootstraps over test images.`,
    ),
  );
  blocks.push(heading(2, 'Results per magnification and arm'));
  const sorted = [...r.rows].sort((a, b) => b.mag - a.mag || ARMS.indexOf(a.arm) - ARMS.indexOf(b.arm));
  blocks.push(
    table(
      ['mag', 'arm', 'input px', 'um/px', 'fwd GFLOPs', 'cost vs teacher', 'img/s (this adapter)', 'test acc', 'acc 95% CI', 'macro AUC', 'AUC 95% CI', 'unlabeled', 'train s'],
      sorted.map((x) => [
        magLabel(x.mag), x.arm, String(x.inputSize), num(x.micronsPerPixel, 2), num(x.forwardGflops, 4), `1/${num(1 / x.costRelativeToTeacher, 1)}`,
        num(x.imagesPerSecond, 1), pct(x.testAccuracy), ci(x.testAccuracyCI), num(x.testMacroAuc), x.testMacroAucCI.every(Number.isFinite) ? `[${num(x.testMacroAucCI[0])}, ${num(x.testMacroAucCI[1])}]` : 'n/a',
        String(x.unlabeledCount), num(x.trainSeconds, 0),
      ]),
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  blocks.push(heading(2, "The paper's headline claims, next to these results"));
  blocks.push(
    paragraph(
      'Thresholds used for the verdicts: claim 1 agrees when the best distilled student at half the teacher magnification is at least as accurate as the teacher, partly within 3 points; ' +
        'claim 2 agrees within 3 points, partly within 6; claim 3 agrees at +2 points or more, partly when positive; claim 4 agrees when the Spearman correlation exceeds 0.5 and the largest set beats the smallest, partly when only the latter holds. ' +
        'No claim is testable when the teacher\'s accuracy interval reaches down to chance (the numbers are still shown). With test sets of this size the confidence intervals are wide: differences inside them are not evidence either way.',
    ),
  );
  blocks.push(table(['claim (paper)', 'measured here', 'verdict'], checkClaims(r).map((c) => [c.claim, c.measured, `**${c.verdict}**`])));
  // Plots.
  const mags = [...new Set(r.rows.map((x) => x.mag))].sort((a, b) => a - b);
  const xTicks = mags.map((m) => ({ x: m, label: magLabel(m) }));
  const armSeries = (value: (x: StudyRow) => number, lowHigh?: (x: StudyRow) => [number, number]): Series[] => {
    const series: Series[] = (['baseline', 'kd', 'kd+unlabeled'] as Arm[]).map((arm) => ({
      name: arm,
      points: r.rows.filter((x) => x.arm === arm).sort((a, b) => a.mag - b.mag).map((x) => ({ x: x.mag, y: value(x), low: lowHigh?.(x)[0], high: lowHigh?.(x)[1] })),
    }));
    if (teacher) {
      series.unshift({ name: `teacher (${magLabel(r.teacherMag)})`, dashed: true, points: [{ x: mags[0], y: value(teacher) }, { x: mags[mags.length - 1], y: value(teacher) }] });
      series.push({ name: 'teacher CI', line: false, points: [{ x: teacher.mag, y: value(teacher), low: lowHigh?.(teacher)[0], high: lowHigh?.(teacher)[1] }] });
    }
    return series;
  };
  blocks.push(heading(2, 'Plots'));
  blocks.push(figure('plots/accuracy_vs_mag.svg', lineChart(armSeries((x) => x.testAccuracy, (x) => x.testAccuracyCI), { title: 'Test accuracy by magnification', xLabel: 'magnification (log scale)', yLabel: 'test accuracy', xLog2: true, xTicks, dodge: 6 }), 'Test accuracy per arm and magnification with 95% bootstrap intervals; the dashed line is the teacher.'));
  blocks.push(figure('plots/auc_vs_mag.svg', lineChart(armSeries((x) => x.testMacroAuc, (x) => x.testMacroAucCI), { title: 'Test macro AUC by magnification', xLabel: 'magnification (log scale)', yLabel: 'macro one-vs-rest AUC', xLog2: true, xTicks, dodge: 6 }), 'Macro AUC (mean of one-vs-rest AUCs) with 95% bootstrap intervals.'));
  const costRows = mags.map((m) => r.rows.find((x) => x.mag === m)!).filter(Boolean);
  blocks.push(figure('plots/cost_vs_mag.svg', lineChart([{ name: 'forward GFLOPs', points: costRows.map((x) => ({ x: x.mag, y: x.forwardGflops })) }], { title: 'Forward cost per tile', xLabel: 'magnification (log scale)', yLabel: 'GFLOPs per tile', xLog2: true, xTicks }), 'Forward GFLOPs per tile, counted from the layer shapes at each input size.'));
  blocks.push(figure('plots/speed_vs_mag.svg', lineChart([{ name: 'images/s', points: costRows.map((x) => ({ x: x.mag, y: x.imagesPerSecond })) }], { title: `Measured inference speed (${r.adapter})`, xLabel: 'magnification (log scale)', yLabel: 'images per second', xLog2: true, xTicks }), 'Forward-only throughput measured on this adapter; fixed costs (dispatch, small kernels) make it grow more slowly than the FLOP count falls.'));
  if (r.sweep.length) {
    const pts = [...r.sweep].sort((a, b) => a.unlabeledCount - b.unlabeledCount);
    blocks.push(figure('plots/accuracy_vs_unlabeled.svg', lineChart([{ name: `KD at ${magLabel(pts[0].mag)}`, points: pts.map((p) => ({ x: p.unlabeledCount, y: p.testAccuracy, low: p.testAccuracyCI[0], high: p.testAccuracyCI[1] })) }], { title: 'Accuracy vs unlabeled images', xLabel: 'unlabeled images added', yLabel: 'test accuracy' }), 'Test accuracy of the distilled student as the unlabeled pool grows (95% bootstrap intervals).'));
    blocks.push(table(['unlabeled images', 'test acc', 'acc 95% CI', 'macro AUC'], pts.map((p) => [String(p.unlabeledCount), pct(p.testAccuracy), ci(p.testAccuracyCI), num(p.testMacroAuc)]), ['right', 'right', 'right', 'right']));
  }
  if (teacher) blocks.push(figure('plots/confusion_teacher.svg', confusionChart(teacher.confusion, r.classes, `Teacher ${magLabel(r.teacherMag)}: test confusion matrix`), 'Teacher confusion matrix on the test split (rows: true class).'));
  blocks.push(heading(2, 'How this run was made'));
  blocks.push(list(r.notes));
  blocks.push(paragraph(`Configuration: \`${JSON.stringify(r.config)}\`. Every trained model has its own folder (checkpoints, \`log.jsonl\`, \`config.json\`, \`eval.json\`), listed in \`results.json\`.`));
  return blocks;
}

/** Write results.json, report.md, report.html and plots/*.svg into dir. */
export function writeStudyReport(dir: string, results: StudyResults) {
  writeJson(join(dir, 'results.json'), results);
  writeDocument(dir, 'report', `rbd study ${results.startedAt}`, studyBlocks(results));
}
