/**
 * The study's report: results.json (machine-readable), report.md and report.html (the same
 * content; the HTML inlines its plots). The text compares the measured results with the
 * paper's four headline claims and says, claim by claim, whether they agree.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { writeJson, readJsonl } from '../util/files.ts';
import { pairedBootstrap, correctness, verdictAbove, type Comparison, type Verdict } from './paired.ts';
import type { LoopEpochRecord } from './loop.ts';
import { type Block, heading, paragraph, list, table, figure, writeDocument } from '../util/document.ts';
import { lineChart, confusionChart, type Series } from '../util/svg.ts';

export type Arm = 'teacher' | 'baseline' | 'kd' | 'kd+unlabeled' | 'ceiling';
export const ARMS: Arm[] = ['teacher', 'baseline', 'kd', 'kd+unlabeled', 'ceiling'];

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
  /** Predicted class per test image, in the order of StudyResults.testLabels (paired comparisons). */
  testPredicted?: number[];
}

export interface SweepPoint {
  mag: number;
  unlabeledCount: number;
  testAccuracy: number;
  testAccuracyCI: [number, number];
  testMacroAuc: number;
  runDir: string;
  testPredicted?: number[];
}

export interface ClaimCheck {
  claim: string;
  measured: string;
  verdict: Verdict;
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
  /** True class per test image (the order of every row's testPredicted). */
  testLabels?: number[];
  /** Paired differences a - b over the same test images (train/paired.ts). */
  comparisons?: Comparison[];
  /** The paper's claims with verdicts from the paired intervals (filled by writeStudyReport). */
  claims?: ClaimCheck[];
  /** Wall-clock seconds per phase (data, calibration, each arm's training and evaluation, report). */
  timings?: Record<string, number>;
  /** Whether the ceiling arm ran (synthetic data with the pool's true labels). */
  ceiling?: boolean;
  /** Per class: the signal the generator puts in the architecture (low magnification) and in nuclear detail (high). */
  classSignals?: { name: string; architecture: string; nuclear: string }[];
  /**
   * The synthetic generator's knobs (data/synth/render.ts), absent on real data. A tile shows
   * its own class's architecture with probability architectureFidelity, otherwise a random
   * class's; architectureOnlyCap = f + (1 - f) / classes is then the accuracy of a model that
   * reads architecture perfectly and nuclear detail not at all.
   */
  generator?: { architectureFidelity: number; nuclearStrength: number; variation: number; architectureOnlyCap: number };
  notes: string[];
}

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');
const ci = (c: [number, number]) => (c.every(Number.isFinite) ? `[${pct(c[0])}, ${pct(c[1])}]` : 'n/a');
const num = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const magLabel = (m: number) => `${m}x`;

function row(r: StudyResults, mag: number, arm: Arm): StudyRow | undefined {
  return r.rows.find((x) => x.mag === mag && x.arm === arm);
}

const CLAIMS = {
  beatsTeacher: 'CD: the student beats the high-resolution teacher while needing 4x fewer FLOPs.',
  within3: 'LUAD: the 1.25x student is within 3% of the 10x teacher, 64x cheaper.',
  unlabeledHelps: 'CD at the lowest magnification: adding unlabeled data improves accuracy by about 4% over the baseline.',
  grows: 'Student accuracy grows with the size of the unlabeled set.',
};

const signed = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;
const pairedText = (d: { diff: number; ci: [number, number] }) =>
  `${signed(d.diff)} points, paired 95% CI [${signed(d.ci[0])}, ${signed(d.ci[1])}]`;

/**
 * The paper's headline claims judged on paired intervals (train/paired.ts verdictAbove): a
 * claim agrees when the whole paired 95% interval of the difference lies on its side of the
 * margin, does not agree when the whole interval lies on the other side, and is inconclusive
 * when the interval straddles it. The distilled student is the KD+unlabeled arm throughout
 * (fixed in advance, not the better of two).
 */
export function checkClaims(r: StudyResults): ClaimCheck[] {
  const teacher = row(r, r.teacherMag, 'teacher');
  const comparisons = r.comparisons ?? [];
  const find = (mag: number | undefined, a: string, b: string) =>
    mag === undefined ? undefined : comparisons.find((c) => Math.abs(c.mag - mag) < 1e-9 && c.a === a && c.b === b);
  const out: ClaimCheck[] = [];
  // A teacher whose accuracy interval reaches down to chance has nothing to teach: comparing
  // students with it would make "matches the teacher" trivially true.
  const chance = 1 / r.classes.length;
  const teacherLearned = !!teacher && teacher.testAccuracyCI[0] > chance;
  const half = r.studentMags.find((m) => Math.abs(m - r.teacherMag / 2) < 1e-9);
  const eighth = r.studentMags.find((m) => Math.abs(m - r.teacherMag / 8) < 1e-9);
  const lowest = Math.min(...r.studentMags);
  const judge = (claim: string, c: Comparison | undefined, margin: number, what: string): ClaimCheck => {
    if (!c) return { claim, measured: `${what}: not trained.`, verdict: 'not tested' };
    const cost = teacher ? ` (${num(teacher.forwardGflops / (row(r, c.mag, 'kd+unlabeled')?.forwardGflops ?? NaN), 1)}x fewer FLOPs)` : '';
    return {
      claim,
      measured: `${what} at ${magLabel(c.mag)}${c.b === 'teacher' ? cost : ''}: ${pairedText(c)}.`,
      verdict: verdictAbove(c.ci, margin),
    };
  };
  out.push(judge(CLAIMS.beatsTeacher, find(half, 'kd+unlabeled', 'teacher'), 0, 'KD+unlabeled minus teacher'));
  out.push(
    judge(
      CLAIMS.within3,
      find(eighth, 'kd+unlabeled', 'teacher'),
      -0.03,
      'KD+unlabeled minus teacher (agrees when the whole interval is above -3 points)',
    ),
  );
  out.push(judge(CLAIMS.unlabeledHelps, find(lowest, 'kd+unlabeled', 'baseline'), 0, 'KD+unlabeled minus labels-only baseline'));
  // Sweep: largest pool against no pool (the kd arm), paired over the same test images.
  const pts = [...r.sweep].sort((a, b) => a.unlabeledCount - b.unlabeledCount);
  const first = pts[0],
    last = pts[pts.length - 1];
  if (pts.length >= 2 && r.testLabels && first.testPredicted && last.testPredicted) {
    const d = pairedBootstrap(correctness(last.testPredicted, r.testLabels), correctness(first.testPredicted, r.testLabels), {
      resamples: 1000,
      seed: 0,
    });
    const rho = spearman(
      pts.map((p) => p.unlabeledCount),
      pts.map((p) => p.testAccuracy),
    );
    out.push({
      claim: CLAIMS.grows,
      measured: `at ${magLabel(first.mag)}: ${pts.map((p) => `${p.unlabeledCount} -> ${pct(p.testAccuracy)}`).join(', ')}; Spearman rank correlation ${num(rho, 2)}; ${last.unlabeledCount} minus ${first.unlabeledCount} unlabeled: ${pairedText(d)}.`,
      verdict: verdictAbove(d.ci, 0),
    });
  } else out.push({ claim: CLAIMS.grows, measured: 'no sweep was run.', verdict: 'not tested' });
  if (teacher && !teacherLearned) {
    for (const c of out) {
      if (c.verdict === 'not tested') continue;
      c.measured += ` The teacher did not learn beyond chance (test accuracy ${pct(teacher.testAccuracy)}, 95% CI ${ci(teacher.testAccuracyCI)}, chance ${pct(chance)}), so the distilled students had nothing to learn from.`;
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
    for (let s = 0; s < idx.length;) {
      let e = s;
      while (e < idx.length && v[idx[e]] === v[idx[s]]) e++;
      for (let k = s; k < e; k++) r[idx[k]] = (s + e - 1) / 2;
      s = e;
    }
    return r;
  };
  const rx = rank(x),
    ry = rank(y);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const mx = mean(rx),
    my = mean(ry);
  let sxy = 0,
    sxx = 0,
    syy = 0;
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
      [
        'mag',
        'arm',
        'input px',
        'um/px',
        'fwd GFLOPs',
        'cost vs teacher',
        'img/s (this adapter)',
        'test acc',
        'acc 95% CI',
        'macro AUC',
        'AUC 95% CI',
        'unlabeled',
        'train s',
      ],
      sorted.map((x) => [
        magLabel(x.mag),
        x.arm,
        String(x.inputSize),
        num(x.micronsPerPixel, 2),
        num(x.forwardGflops, 4),
        `1/${num(1 / x.costRelativeToTeacher, 1)}`,
        num(x.imagesPerSecond, 1),
        pct(x.testAccuracy),
        ci(x.testAccuracyCI),
        num(x.testMacroAuc),
        x.testMacroAucCI.every(Number.isFinite) ? `[${num(x.testMacroAucCI[0])}, ${num(x.testMacroAucCI[1])}]` : 'n/a',
        String(x.unlabeledCount),
        num(x.trainSeconds, 0),
      ]),
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  blocks.push(heading(2, "The paper's headline claims, next to these results"));
  blocks.push(
    paragraph(
      'Each verdict is read from a paired bootstrap 95% interval of the accuracy difference over the same test images (both arms scored on every resample). ' +
        'A claim **agrees** when the whole interval lies on its side (claim 1: KD+unlabeled at half the teacher magnification above the teacher; claim 2: KD+unlabeled at 1/8 of it above teacher minus 3 points; claim 3: KD+unlabeled above the baseline at the lowest magnification; claim 4: the largest unlabeled pool above none), ' +
        "**does not agree** when the whole interval lies on the other side, and is **inconclusive** when the interval straddles the line: the data cannot tell. No claim is judged when the teacher's accuracy interval reaches down to chance.",
    ),
  );
  blocks.push(
    table(
      ['claim (paper)', 'measured here', 'verdict'],
      (r.claims ?? checkClaims(r)).map((c) => [c.claim, c.measured, `**${c.verdict}**`]),
    ),
  );
  if (r.comparisons?.length) {
    blocks.push(heading(2, 'Paired comparisons'));
    blocks.push(
      paragraph(
        'Accuracy of arm a minus arm b on the same test images, with a paired bootstrap 95% interval (1000 resamples of the images, both arms scored on each). An interval that excludes 0 is a difference the test set can see.',
      ),
    );
    blocks.push(
      table(
        ['mag', 'a', 'b', 'a - b (points)', 'paired 95% CI'],
        r.comparisons.map((c) => [magLabel(c.mag), c.a, c.b, signed(c.diff), `[${signed(c.ci[0])}, ${signed(c.ci[1])}]`]),
        ['left', 'left', 'left', 'right', 'right'],
      ),
    );
  }
  blocks.push(...scaleBlocks(r));
  const mags = [...new Set(r.rows.map((x) => x.mag))].sort((a, b) => a - b);
  const xTicks = mags.map((m) => ({ x: m, label: magLabel(m) }));
  const armSeries = (value: (x: StudyRow) => number, lowHigh?: (x: StudyRow) => [number, number]): Series[] => {
    const series: Series[] = (['baseline', 'kd', 'kd+unlabeled'] as Arm[]).map((arm) => ({
      name: arm,
      points: r.rows
        .filter((x) => x.arm === arm)
        .sort((a, b) => a.mag - b.mag)
        .map((x) => ({ x: x.mag, y: value(x), low: lowHigh?.(x)[0], high: lowHigh?.(x)[1] })),
    }));
    if (teacher) {
      series.unshift({
        name: `teacher (${magLabel(r.teacherMag)})`,
        dashed: true,
        points: [
          { x: mags[0], y: value(teacher) },
          { x: mags[mags.length - 1], y: value(teacher) },
        ],
      });
      series.push({
        name: 'teacher CI',
        line: false,
        points: [{ x: teacher.mag, y: value(teacher), low: lowHigh?.(teacher)[0], high: lowHigh?.(teacher)[1] }],
      });
    }
    return series;
  };
  blocks.push(heading(2, 'Plots'));
  blocks.push(
    figure(
      'plots/accuracy_vs_mag.svg',
      lineChart(
        armSeries(
          (x) => x.testAccuracy,
          (x) => x.testAccuracyCI,
        ),
        {
          title: 'Test accuracy by magnification',
          xLabel: 'magnification (log scale)',
          yLabel: 'test accuracy',
          xLog2: true,
          xTicks,
          dodge: 6,
        },
      ),
      'Test accuracy per arm and magnification with 95% bootstrap intervals; the dashed line is the teacher.',
    ),
  );
  blocks.push(
    figure(
      'plots/auc_vs_mag.svg',
      lineChart(
        armSeries(
          (x) => x.testMacroAuc,
          (x) => x.testMacroAucCI,
        ),
        {
          title: 'Test macro AUC by magnification',
          xLabel: 'magnification (log scale)',
          yLabel: 'macro one-vs-rest AUC',
          xLog2: true,
          xTicks,
          dodge: 6,
        },
      ),
      'Macro AUC (mean of one-vs-rest AUCs) with 95% bootstrap intervals.',
    ),
  );
  const costRows = mags.map((m) => r.rows.find((x) => x.mag === m)!).filter(Boolean);
  blocks.push(
    figure(
      'plots/cost_vs_mag.svg',
      lineChart([{ name: 'forward GFLOPs', points: costRows.map((x) => ({ x: x.mag, y: x.forwardGflops })) }], {
        title: 'Forward cost per tile',
        xLabel: 'magnification (log scale)',
        yLabel: 'GFLOPs per tile',
        xLog2: true,
        xTicks,
      }),
      'Forward GFLOPs per tile, counted from the layer shapes at each input size.',
    ),
  );
  blocks.push(
    figure(
      'plots/speed_vs_mag.svg',
      lineChart([{ name: 'images/s', points: costRows.map((x) => ({ x: x.mag, y: x.imagesPerSecond })) }], {
        title: `Measured inference speed (${r.adapter})`,
        xLabel: 'magnification (log scale)',
        yLabel: 'images per second',
        xLog2: true,
        xTicks,
      }),
      'Forward-only throughput measured on this adapter; fixed costs (dispatch, small kernels) make it grow more slowly than the FLOP count falls.',
    ),
  );
  if (r.sweep.length) {
    const pts = [...r.sweep].sort((a, b) => a.unlabeledCount - b.unlabeledCount);
    blocks.push(
      figure(
        'plots/accuracy_vs_unlabeled.svg',
        lineChart(
          [
            {
              name: `KD at ${magLabel(pts[0].mag)}`,
              points: pts.map((p) => ({ x: p.unlabeledCount, y: p.testAccuracy, low: p.testAccuracyCI[0], high: p.testAccuracyCI[1] })),
            },
          ],
          { title: 'Accuracy vs unlabeled images', xLabel: 'unlabeled images added', yLabel: 'test accuracy' },
        ),
        'Test accuracy of the distilled student as the unlabeled pool grows (95% bootstrap intervals).',
      ),
    );
    blocks.push(
      table(
        ['unlabeled images', 'test acc', 'acc 95% CI', 'macro AUC'],
        pts.map((p) => [String(p.unlabeledCount), pct(p.testAccuracy), ci(p.testAccuracyCI), num(p.testMacroAuc)]),
        ['right', 'right', 'right', 'right'],
      ),
    );
  }
  blocks.push(...gflopsAndCurves(r));
  if (teacher)
    blocks.push(
      figure(
        'plots/confusion_teacher.svg',
        confusionChart(teacher.confusion, r.classes, `Teacher ${magLabel(r.teacherMag)}: test confusion matrix`),
        'Teacher confusion matrix on the test split (rows: true class).',
      ),
    );
  if (r.timings) {
    blocks.push(heading(2, 'Where the wall clock went'));
    const total = Object.values(r.timings).reduce((a, b) => a + b, 0);
    blocks.push(
      table(
        ['phase', 'seconds', 'share'],
        [...Object.entries(r.timings).map(([k, v]) => [k, num(v, 1), pct(v / total)]), ['sum of phases', num(total, 1), pct(1)]],
        ['left', 'right', 'right'],
      ),
    );
  }
  blocks.push(heading(2, 'How this run was made'));
  blocks.push(list(r.notes));
  blocks.push(
    paragraph(
      `Configuration: \`${JSON.stringify(r.config)}\`. Every trained model has its own folder (checkpoints, \`log.jsonl\`, \`config.json\`, \`eval.json\`), listed in \`results.json\`.`,
    ),
  );
  return blocks;
}

/** Side of a nucleus-sized detail (an intraepithelial lymphocyte, about 5 microns across) below which it is not resolved. */
const NUCLEUS_MICRONS = 5;
/** The finest architectural spacing of the CD classes (sprue's crypts), in microns. */
const CRYPT_MICRONS = 30;

/**
 * What the data carries at each magnification: which class signal the generator put at that
 * scale (architecture: tens to hundreds of microns; nuclear detail and IELs: 2-6 microns) and
 * the ceiling arm's accuracy, the most that magnification's pixels gave here.
 */
function scaleBlocks(r: StudyResults): Block[] {
  const blocks: Block[] = [heading(2, 'What the data carries at each scale')];
  if (r.classSignals?.length) {
    blocks.push(
      paragraph(
        "The generator's classes (parameters set from the described histology before any study ran, not tuned afterwards to make a verdict agree):",
      ),
    );
    blocks.push(
      table(
        ['class', 'architecture (visible at low magnification)', 'nuclear detail (high magnification only)'],
        r.classSignals.map((c) => [c.name, c.architecture, c.nuclear]),
      ),
    );
  }
  const cap = architectureCapParagraph(r);
  if (cap) blocks.push(cap);
  const mags = [r.teacherMag, ...r.studentMags];
  const rowsOut = mags.map((m) => {
    const any = r.rows.find((x) => x.mag === m);
    const mpp = any?.micronsPerPixel ?? 10 / m;
    const nucleusPx = NUCLEUS_MICRONS / mpp;
    const nuclear = nucleusPx >= 3 ? 'resolved' : nucleusPx >= 1.5 ? 'blurred: texture only' : 'averaged away (below a pixel or two)';
    const ceil = m === r.teacherMag ? row(r, m, 'teacher') : row(r, m, 'ceiling');
    const kdu = row(r, m, 'kd+unlabeled');
    const base = row(r, m, 'baseline');
    const closed =
      !(ceil && kdu && base) || m === r.teacherMag || ceil.testAccuracy - base.testAccuracy <= 0.02
        ? 'n/a'
        : kdu.testAccuracy > ceil.testAccuracy
          ? `above the ceiling (${signed(kdu.testAccuracy - ceil.testAccuracy)} points): the ceiling arm is not an upper bound at ${ceil.epochs} epoch(s)`
          : pct((kdu.testAccuracy - base.testAccuracy) / (ceil.testAccuracy - base.testAccuracy));
    return [
      magLabel(m),
      num(mpp, 2),
      any ? String(any.inputSize) : 'n/a',
      num(nucleusPx, 1),
      `${num(CRYPT_MICRONS / mpp, 1)} px per ${CRYPT_MICRONS} um crypt spacing; field ${num((any?.inputSize ?? NaN) * mpp, 0)} um`,
      nuclear,
      ceil ? `${m === r.teacherMag ? 'teacher ' : ''}${pct(ceil.testAccuracy)} ${ci(ceil.testAccuracyCI)}` : 'n/a',
      kdu ? pct(kdu.testAccuracy) : 'n/a',
      closed,
    ];
  });
  blocks.push(
    table(
      [
        'mag',
        'um/px',
        'tile px',
        `${NUCLEUS_MICRONS} um nucleus in px`,
        'architecture',
        'nuclear detail / IELs',
        r.ceiling ? 'ceiling acc [95% CI]' : 'teacher acc',
        'KD+unlabeled acc',
        'gap closed by KD+unlabeled',
      ],
      rowsOut,
      ['left', 'right', 'right', 'right', 'left', 'left', 'right', 'right', 'right'],
    ),
  );
  blocks.push(
    paragraph(
      (r.ceiling
        ? "The ceiling arm trains with labels on the labelled set plus the unlabeled pool's true classes (known only because the data is synthetic), for the same epochs: a student far below its ceiling means the method left accuracy on the table; a ceiling far below the teacher means the pixels at that magnification do not carry the signal. "
        : 'No ceiling arm: the data has no true labels for its unlabeled pool (real data). ') +
        '"Gap closed" is (KD+unlabeled - baseline) / (ceiling - baseline) at each student magnification (n/a when the ceiling is within 2 points of the baseline). Where KD+unlabeled beats the ceiling, the ceiling arm (cross-entropy on hard labels, same epochs) was under-trained rather than the pixels exhausted: with few epochs the teacher\'s soft targets train a student faster than hard labels do, and the ceiling then bounds nothing.',
    ),
  );
  return blocks;
}

/** Accuracy of a model that reads a tile's architecture perfectly and its nuclear detail not at all (see StudyResults.generator). */
export function architectureOnlyCap(architectureFidelity: number, classes: number): number {
  return architectureFidelity + (1 - architectureFidelity) / classes;
}

/**
 * Where the teacher stands against the architecture-only cap: above it, it must read nuclear
 * detail; at or below it, nothing in its accuracy shows that it does (it may still use some).
 */
function architectureCapParagraph(r: StudyResults): Block | null {
  const g = r.generator;
  const teacher = row(r, r.teacherMag, 'teacher');
  if (!g || !teacher) return null;
  const [lo, hi] = teacher.testAccuracyCI;
  const f = g.architectureFidelity;
  const where =
    lo > g.architectureOnlyCap
      ? 'above it, so it reads nuclear detail too'
      : hi < g.architectureOnlyCap
        ? 'below it, so it has not even learned all of the architecture signal, and its accuracy shows no use of nuclear detail'
        : 'not distinguishable from it, so its accuracy shows no clear use of nuclear detail';
  return paragraph(
    `Architecture alone caps accuracy: the generator shows a tile's own class's architecture with probability ${num(f, 2)} and a random class's otherwise, so a model that reads architecture perfectly and nuclear detail not at all scores ${num(f, 2)} + ${num(1 - f, 2)} / ${r.classes.length} = ${pct(g.architectureOnlyCap)}. The teacher's ${pct(teacher.testAccuracy)} ${ci(teacher.testAccuracyCI)} is ${where}. Accuracy beyond the cap can only come from the ${magLabel(r.teacherMag)} nuclear detail.`,
  );
}

/** Accuracy against forward GFLOPs (log axis), every arm at every magnification plus the teacher; training curves per arm from log.jsonl. */
function gflopsAndCurves(r: StudyResults): Block[] {
  const blocks: Block[] = [];
  const studentArms = ARMS.filter((a) => a !== 'teacher');
  const series: Series[] = studentArms
    .map((arm) => ({
      name: arm,
      points: r.rows
        .filter((x) => x.arm === arm)
        .sort((a, b) => a.forwardGflops - b.forwardGflops)
        .map((x) => ({ x: x.forwardGflops, y: x.testAccuracy, low: x.testAccuracyCI[0], high: x.testAccuracyCI[1] })),
    }))
    .filter((x) => x.points.length > 0);
  const teacher = row(r, r.teacherMag, 'teacher');
  if (teacher)
    series.push({
      name: `teacher ${magLabel(r.teacherMag)}`,
      line: false,
      points: [{ x: teacher.forwardGflops, y: teacher.testAccuracy, low: teacher.testAccuracyCI[0], high: teacher.testAccuracyCI[1] }],
    });
  const byFlops = [...new Map(r.rows.map((x) => [x.forwardGflops, x.mag])).entries()].sort((a, b) => a[0] - b[0]);
  const xTicks = byFlops.map(([g, m]) => ({ x: g, label: `${g < 0.01 ? g.toFixed(4) : g.toFixed(3)} (${magLabel(m)})` }));
  blocks.push(
    figure(
      'plots/accuracy_vs_gflops.svg',
      lineChart(series, {
        title: 'Test accuracy vs forward cost per tile',
        xLabel: 'forward GFLOPs per tile (log scale; magnification in brackets)',
        yLabel: 'test accuracy',
        xLog2: true,
        xTicks,
        dodge: 5,
        width: 640,
      }),
      'Test accuracy with 95% bootstrap intervals against forward GFLOPs per tile (counted from the layer shapes), every arm at every magnification, and the teacher.',
    ),
  );
  // Training curves: per arm, validation accuracy and training loss per epoch, one line per magnification.
  for (const arm of ARMS) {
    const runs = r.rows.filter((x) => x.arm === arm).sort((a, b) => b.mag - a.mag);
    const logs = runs
      .map((x) => ({
        mag: x.mag,
        log: existsSync(join(x.runDir, 'log.jsonl')) ? readJsonl<LoopEpochRecord>(join(x.runDir, 'log.jsonl')) : [],
      }))
      .filter((x) => x.log.length > 0);
    if (!logs.length) continue;
    const curve = (value: (e: LoopEpochRecord) => number | undefined): Series[] =>
      logs.map((x) => ({ name: magLabel(x.mag), points: x.log.map((e) => ({ x: e.epoch + 1, y: value(e) ?? NaN })) }));
    const slug = arm.replace('+', '_');
    blocks.push(
      figure(
        `plots/curve_val_${slug}.svg`,
        lineChart(
          curve((e) => e.valAccuracy as number | undefined),
          { title: `${arm}: validation accuracy per epoch`, xLabel: 'epoch', yLabel: 'validation accuracy' },
        ),
        `${arm}: validation accuracy after each epoch (from each run's log.jsonl).`,
      ),
    );
    blocks.push(
      figure(
        `plots/curve_loss_${slug}.svg`,
        lineChart(
          curve((e) => e.loss),
          {
            title: `${arm}: training loss per epoch`,
            xLabel: 'epoch',
            yLabel: arm === 'kd' || arm === 'kd+unlabeled' ? 'distillation loss (KL + pixel)' : 'cross-entropy',
          },
        ),
        `${arm}: mean training loss of each epoch.`,
      ),
    );
  }
  return blocks;
}

/** Write results.json, report.md, report.html and plots/*.svg into dir (claims filled in from the paired comparisons). */
export function writeStudyReport(dir: string, results: StudyResults) {
  results.claims = checkClaims(results);
  writeJson(join(dir, 'results.json'), results);
  writeDocument(dir, 'report', `rbd study ${results.startedAt}`, studyBlocks(results));
}
