/** The study report: claim verdicts on constructed results, Spearman by hand, and the files written. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkClaims, spearman, writeStudyReport, type StudyResults, type StudyRow, type Arm } from '../../train/study_report.ts';

const tmp = mkdtempSync(join(tmpdir(), 'rbd-report-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function row(mag: number, arm: Arm, acc: number, ci: [number, number] = [acc - 0.05, acc + 0.05]): StudyRow {
  const gflops = 0.1 * (mag / 10) ** 2;
  return {
    mag, arm, forwardGflops: gflops, costRelativeToTeacher: gflops / 0.1, imagesPerSecond: 10 / gflops, inputSize: 64 * mag / 10, micronsPerPixel: 10 / mag,
    testAccuracy: acc, testAccuracyCI: ci, testMacroAuc: acc, testMacroAucCI: ci, testLoss: 1 - acc, unlabeledCount: arm === 'kd+unlabeled' ? 100 : 0,
    trainImages: 120, epochs: 5, trainSeconds: 30, confusion: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], runDir: `runs/x/${arm}-${mag}x`,
  };
}

function results(rows: StudyRow[], sweepAcc: number[]): StudyResults {
  return {
    preset: 'test', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:10:00Z', durationSeconds: 600, expectedSeconds: 550, adapter: 'test adapter',
    classes: ['abnormal', 'normal', 'sprue'], teacherMag: 10, studentMags: [5, 2.5, 1.25],
    data: { dir: 'runs/data/x', train: 120, val: 36, test: 90, unlabeled: 100, tileMicrons: 64, generated: true },
    config: { preset: 'test' }, rows,
    sweep: sweepAcc.map((a, i) => ({ mag: 1.25, unlabeledCount: [0, 50, 100][i], testAccuracy: a, testAccuracyCI: [a - 0.1, a + 0.1] as [number, number], testMacroAuc: a, runDir: 'x' })),
    notes: ['a note with `code` and **bold** and <html> to escape'],
  };
}

const arms = (mag: number, base: number, kd: number, kdu: number) => [row(mag, 'baseline', base), row(mag, 'kd', kd), row(mag, 'kd+unlabeled', kdu)];

test('spearman of hand-ranked data', () => {
  // x ranks 1,2,3,4; y = 10, 30, 20, 40 ranks 1,3,2,4: d = 0,1,1,0, sum d^2 = 2,
  // rho = 1 - 6*2 / (4*(16-1)) = 1 - 12/60 = 0.8.
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [10, 30, 20, 40]) - 0.8) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 2, 3], [5, 5, 5])), 'a constant side has no rank correlation');
});

test('claims: a learning teacher, a better 5x student, 1.25x within 3 points, unlabeled helps and grows', () => {
  const r = results([row(10, 'teacher', 0.8, [0.7, 0.9]), ...arms(5, 0.7, 0.82, 0.81), ...arms(2.5, 0.6, 0.7, 0.72), ...arms(1.25, 0.6, 0.75, 0.78)], [0.75, 0.76, 0.78]);
  const v = checkClaims(r).map((c) => c.verdict);
  // 1: 0.82 >= 0.80 -> agrees. 2: best at 1.25x 0.78 vs 0.80 = -2 points, within 3 -> agrees.
  // 3: 0.78 - 0.60 = +18 points >= 2 -> agrees. 4: accuracies rise with the set, rho = 1 -> agrees.
  assert.equal(v, ['agrees', 'agrees', 'agrees', 'agrees']);
});

test('claims: disagreement is reported as such, and a teacher at chance makes every claim untestable', () => {
  const worse = results([row(10, 'teacher', 0.8, [0.7, 0.9]), ...arms(5, 0.7, 0.7, 0.71), ...arms(2.5, 0.6, 0.6, 0.6), ...arms(1.25, 0.65, 0.6, 0.6)], [0.6, 0.58, 0.6]);
  // 1: 0.71 vs 0.80 = -9 points -> does not agree. 2: 0.60 vs 0.80 = -20 -> does not agree.
  // 3: 0.60 - 0.65 < 0 -> does not agree. 4: last (0.60) not above first (0.60) -> does not agree.
  assert.equal(checkClaims(worse).map((c) => c.verdict), ['does not agree', 'does not agree', 'does not agree', 'does not agree']);
  // Chance for 3 classes is 1/3; a teacher CI reaching 0.30 has not learned.
  const chance = results([row(10, 'teacher', 0.36, [0.3, 0.42]), ...arms(5, 0.33, 0.36, 0.36), ...arms(2.5, 0.33, 0.33, 0.33), ...arms(1.25, 0.33, 0.33, 0.33)], [0.33, 0.33, 0.33]);
  const c = checkClaims(chance);
  assert.equal(c.map((x) => x.verdict), ['not testable', 'not testable', 'not testable', 'not testable']);
  assert.match(c[0].measured, 'did not learn beyond chance');
  assert.match(c[2].measured, 'at 1.25x: KD+unlabeled 33.0% vs baseline 33.0%');
});

test('writeStudyReport writes results.json with the agreed row fields, report.md, a self-contained report.html, plots', () => {
  const r = results([row(10, 'teacher', 0.8, [0.7, 0.9]), ...arms(5, 0.7, 0.82, 0.81), ...arms(2.5, 0.6, 0.7, 0.72), ...arms(1.25, 0.6, 0.75, 0.78)], [0.75, 0.76, 0.78]);
  writeStudyReport(tmp, r);
  const json = JSON.parse(readFileSync(join(tmp, 'results.json'), 'utf8')) as { rows: Record<string, unknown>[] };
  assert.is(json.rows.length, 10);
  for (const key of ['mag', 'arm', 'forwardGflops', 'testAccuracy', 'testAccuracyCI', 'testMacroAuc', 'unlabeledCount']) assert.ok(key in json.rows[0], `results.json rows lack ${key}`);
  const md = readFileSync(join(tmp, 'report.md'), 'utf8');
  assert.match(md, '| 1.25x | kd+unlabeled | 8 |');
  assert.match(md, '![Test accuracy per arm');
  const html = readFileSync(join(tmp, 'report.html'), 'utf8');
  assert.ok((html.match(/<svg /g) ?? []).length >= 5, 'plots are inlined');
  assert.not.match(html, /<script|src="http|href="http/, 'nothing is loaded from elsewhere');
  assert.match(html, '&lt;html&gt; to escape');
  assert.match(html, '<code>code</code> and <strong>bold</strong>');
  for (const f of ['accuracy_vs_mag', 'auc_vs_mag', 'cost_vs_mag', 'speed_vs_mag', 'accuracy_vs_unlabeled']) assert.ok(existsSync(join(tmp, 'plots', `${f}.svg`)), `${f}.svg missing`);
});

test.run();
