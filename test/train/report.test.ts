/** The study report: claim verdicts on constructed results, Spearman by hand, and the files written. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  architectureOnlyCap,
  checkClaims,
  spearman,
  writeStudyReport,
  type StudyResults,
  type StudyRow,
  type Arm,
} from '../../train/study_report.ts';
import type { Comparison } from '../../train/paired.ts';

const tmp = mkdtempSync(join(tmpdir(), 'rbd-report-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function row(mag: number, arm: Arm, acc: number, ci: [number, number] = [acc - 0.05, acc + 0.05]): StudyRow {
  const gflops = 0.1 * (mag / 10) ** 2;
  return {
    mag,
    arm,
    forwardGflops: gflops,
    costRelativeToTeacher: gflops / 0.1,
    imagesPerSecond: 10 / gflops,
    inputSize: (64 * mag) / 10,
    micronsPerPixel: 10 / mag,
    testAccuracy: acc,
    testAccuracyCI: ci,
    testMacroAuc: acc,
    testMacroAucCI: ci,
    testLoss: 1 - acc,
    unlabeledCount: arm === 'kd+unlabeled' ? 100 : 0,
    trainImages: 120,
    epochs: 5,
    trainSeconds: 30,
    confusion: [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    runDir: `runs/x/${arm}-${mag}x`,
  };
}

function results(rows: StudyRow[], sweepAcc: number[]): StudyResults {
  return {
    preset: 'test',
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:10:00Z',
    durationSeconds: 600,
    expectedSeconds: 550,
    adapter: 'test adapter',
    classes: ['abnormal', 'normal', 'sprue'],
    teacherMag: 10,
    studentMags: [5, 2.5, 1.25],
    data: { dir: 'runs/data/x', train: 120, val: 36, test: 90, unlabeled: 100, tileMicrons: 64, generated: true },
    config: { preset: 'test' },
    rows,
    sweep: sweepAcc.map((a, i) => ({
      mag: 1.25,
      unlabeledCount: [0, 50, 100][i],
      testAccuracy: a,
      testAccuracyCI: [a - 0.1, a + 0.1] as [number, number],
      testMacroAuc: a,
      runDir: 'x',
    })),
    notes: ['a note with `code` and **bold** and <html> to escape'],
  };
}

const arms = (mag: number, base: number, kd: number, kdu: number) => [
  row(mag, 'baseline', base),
  row(mag, 'kd', kd),
  row(mag, 'kd+unlabeled', kdu),
];

/** Comparisons as compareArms would give them: a - b and a paired interval (given here, so the verdicts are by hand). */
const cmp = (mag: number, a: string, b: string, low: number, high: number): Comparison => ({
  mag,
  a,
  b,
  diff: (low + high) / 2,
  ci: [low, high],
});

test('spearman of hand-ranked data', () => {
  // x ranks 1,2,3,4; y = 10, 30, 20, 40 ranks 1,3,2,4: d = 0,1,1,0, sum d^2 = 2,
  // rho = 1 - 6*2 / (4*(16-1)) = 1 - 12/60 = 0.8.
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [10, 30, 20, 40]) - 0.8) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 2, 3], [5, 5, 5])), 'a constant side has no rank correlation');
});

const rowsAll = () => [
  row(10, 'teacher', 0.8, [0.7, 0.9]),
  ...arms(5, 0.7, 0.82, 0.81),
  ...arms(2.5, 0.6, 0.7, 0.72),
  ...arms(1.25, 0.6, 0.75, 0.78),
];

test('claims are judged on the paired intervals: above the line agrees, below does not, straddling is inconclusive', () => {
  const r = results(rowsAll(), [0.75, 0.76, 0.78]);
  // Sweep: 20 test images; the largest pool is right on images 0-15, none on 0-9: +6 of 20 = +30
  // points, and every resample's difference is >= 0 with a positive lower bound (6 of 20 differ).
  r.testLabels = new Array(20).fill(0);
  r.sweep[0].testPredicted = r.testLabels.map((_, i) => (i < 10 ? 0 : 1));
  r.sweep[2].testPredicted = r.testLabels.map((_, i) => (i < 16 ? 0 : 1));
  r.comparisons = [
    cmp(5, 'kd+unlabeled', 'teacher', 0.01, 0.05),
    cmp(1.25, 'kd+unlabeled', 'teacher', -0.025, 0.01),
    cmp(1.25, 'kd+unlabeled', 'baseline', 0.1, 0.25),
  ];
  assert.equal(
    checkClaims(r).map((c) => c.verdict),
    ['agrees', 'agrees', 'agrees', 'agrees'],
  );
  assert.match(checkClaims(r)[3].measured, '100 minus 0 unlabeled: +30.0 points');
  // Straddling (claim 1 across 0, claim 2 across -3) and wholly below (claim 3).
  r.comparisons = [
    cmp(5, 'kd+unlabeled', 'teacher', -0.04, 0.02),
    cmp(1.25, 'kd+unlabeled', 'teacher', -0.06, -0.01),
    cmp(1.25, 'kd+unlabeled', 'baseline', -0.08, -0.01),
  ];
  r.sweep[2].testPredicted = r.sweep[0].testPredicted;
  assert.equal(
    checkClaims(r).map((c) => c.verdict),
    ['inconclusive', 'inconclusive', 'does not agree', 'does not agree'],
  );
  assert.match(checkClaims(r)[2].measured, 'KD+unlabeled minus labels-only baseline at 1.25x: -4.5 points, paired 95% CI [-8.0, -1.0]');
  // Missing arms: not tested.
  r.comparisons = [];
  assert.equal(
    checkClaims(r)
      .slice(0, 3)
      .map((c) => c.verdict),
    ['not tested', 'not tested', 'not tested'],
  );
});

test('a teacher at chance makes every claim untestable', () => {
  // Chance for 3 classes is 1/3; a teacher CI reaching 0.30 has not learned.
  const chance = results(
    [row(10, 'teacher', 0.36, [0.3, 0.42]), ...arms(5, 0.33, 0.36, 0.36), ...arms(2.5, 0.33, 0.33, 0.33), ...arms(1.25, 0.33, 0.33, 0.33)],
    [0.33, 0.33, 0.33],
  );
  chance.comparisons = [
    cmp(5, 'kd+unlabeled', 'teacher', -0.02, 0.02),
    cmp(1.25, 'kd+unlabeled', 'teacher', -0.02, 0.02),
    cmp(1.25, 'kd+unlabeled', 'baseline', 0.01, 0.02),
  ];
  chance.testLabels = [0, 1];
  for (const p of chance.sweep) p.testPredicted = [0, 0];
  const c = checkClaims(chance);
  assert.equal(
    c.map((x) => x.verdict),
    ['not testable', 'not testable', 'not testable', 'not testable'],
  );
  assert.match(c[0].measured, 'did not learn beyond chance');
});

test('writeStudyReport writes results.json with the agreed row fields, report.md, a self-contained report.html, plots', () => {
  const r = results([...rowsAll(), row(5, 'ceiling', 0.9), row(2.5, 'ceiling', 0.8), row(1.25, 'ceiling', 0.79)], [0.75, 0.76, 0.78]);
  r.comparisons = [cmp(5, 'kd+unlabeled', 'teacher', 0.01, 0.05)];
  r.ceiling = true;
  r.classSignals = [{ name: 'normal', architecture: 'tall villi', nuclear: 'few IELs' }];
  r.timings = { data: 60, calibration: 20, 'teacher 10x train': 300 };
  writeStudyReport(tmp, r);
  const json = JSON.parse(readFileSync(join(tmp, 'results.json'), 'utf8')) as {
    rows: Record<string, unknown>[];
    comparisons: unknown[];
    claims: { claim: string; measured: string; verdict: string }[];
  };
  assert.is(json.rows.length, 13);
  assert.equal(json.comparisons, r.comparisons);
  assert.equal(
    json.claims.map((c) => Object.keys(c)),
    new Array(4).fill(['claim', 'measured', 'verdict']),
  );
  assert.is(json.claims[0].verdict, 'agrees');
  for (const key of ['mag', 'arm', 'forwardGflops', 'testAccuracy', 'testAccuracyCI', 'testMacroAuc', 'unlabeledCount'])
    assert.ok(key in json.rows[0], `results.json rows lack ${key}`);
  const md = readFileSync(join(tmp, 'report.md'), 'utf8');
  assert.match(md, '| 1.25x | kd+unlabeled | 8 |');
  assert.match(md, '![Test accuracy per arm');
  const html = readFileSync(join(tmp, 'report.html'), 'utf8');
  assert.ok((html.match(/<svg /g) ?? []).length >= 5, 'plots are inlined');
  assert.not.match(html, /<script|src="http|href="http/, 'nothing is loaded from elsewhere');
  assert.match(html, '&lt;html&gt; to escape');
  assert.match(html, '<code>code</code> and <strong>bold</strong>');
  // What the data carries: at 1.25x (8 um/px) a 5 um nucleus is 0.6 px; the ceiling's accuracy is shown.
  assert.match(
    md,
    '| 1.25x | 8.00 | 8 | 0.6 | 3.8 px per 30 um crypt spacing; field 64 um | averaged away (below a pixel or two) | 79.0% [74.0%, 84.0%] | 78.0% |',
  );
  assert.match(md, '| data | 60.0 |');
  assert.match(html, 'Test accuracy vs forward cost per tile');
  for (const f of ['accuracy_vs_gflops', 'accuracy_vs_mag', 'auc_vs_mag', 'cost_vs_mag', 'speed_vs_mag', 'accuracy_vs_unlabeled'])
    assert.ok(existsSync(join(tmp, 'plots', `${f}.svg`)), `${f}.svg missing`);
});

test('the report places the teacher against the architecture-only cap: f + (1 - f) / classes, from the generator knobs', () => {
  // 3 classes, fidelity 0.6: 0.6 + 0.4 / 3 = 0.7333...
  assert.ok(Math.abs(architectureOnlyCap(0.6, 3) - 0.73333333) < 1e-6);
  assert.is(architectureOnlyCap(1, 5), 1);
  assert.ok(Math.abs(architectureOnlyCap(0, 4) - 0.25) < 1e-12, 'no architecture signal: chance');
  const cases: [number, [number, number], string][] = [
    [0.6, [0.55, 0.65], 'below it'],
    [0.72, [0.67, 0.77], 'not distinguishable from it'],
    [0.9, [0.86, 0.94], 'above it, so it reads nuclear detail too'],
  ];
  for (const [acc, ci, where] of cases) {
    const dir = mkdtempSync(join(tmp, 'cap-'));
    const r = results([row(10, 'teacher', acc, ci), ...arms(5, 0.5, 0.55, 0.56)], [0.5, 0.5, 0.5]);
    r.generator = { architectureFidelity: 0.6, nuclearStrength: 1, variation: 1, architectureOnlyCap: architectureOnlyCap(0.6, 3) };
    writeStudyReport(dir, r);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(md, 'scores 0.60 + 0.40 / 3 = 73.3%');
    assert.match(md, `The teacher's ${(100 * acc).toFixed(1)}% [${(100 * ci[0]).toFixed(1)}%, ${(100 * ci[1]).toFixed(1)}%] is ${where}`);
    const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as StudyResults;
    assert.equal(json.generator, r.generator);
  }
  // Real data (no generator knobs): no such paragraph.
  const dir = mkdtempSync(join(tmp, 'cap-'));
  writeStudyReport(dir, results(rowsAll(), [0.75, 0.76, 0.78]));
  assert.not.match(readFileSync(join(dir, 'report.md'), 'utf8'), 'Architecture alone caps accuracy');
});

test.run();
