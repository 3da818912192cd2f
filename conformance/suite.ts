/**
 * The kernel conformance suite: every kernel, forward and backward, against its float64
 * reference on the awkward shapes of its test file. The cases are the tests themselves
 * (test/ops/*.test.ts, test/optim/*.test.ts), registered through conformance/uvu.ts; each
 * comparison they make goes through engine/check.ts assertClose, whose records give the worst
 * error and the tolerance of every test. Used by the web page (web/main.ts) and its test.
 */
import { onCheck, type CheckRecord, type Tol } from '../engine/check.ts';
import { collect } from './uvu.ts';

export interface ConformanceFile {
  /** Path of the test file, e.g. 'test/ops/relu.test.ts'. */
  file: string;
  load: () => Promise<unknown>;
}

export interface ConformanceResult {
  /** '<file stem>: <test name>', e.g. 'relu: relu forward+backward x=[1031]'. */
  name: string;
  file: string;
  /** Largest |gpu - ref| of the test's worst comparison (the one closest to, or over, its tolerance). */
  worstError: number;
  /** That comparison's tolerance: |gpu - ref| <= atol + rtol |ref| elementwise. */
  tolerance: Tol;
  /** Of that comparison: max |gpu - ref| / (atol + rtol |ref|); <= 1 passes. */
  worstRatio: number;
  worstLabel: string;
  checks: number;
  pass: boolean;
  /** The thrown error's first line when the test failed. */
  error?: string;
  ms: number;
}

/**
 * Run the files' tests in order; each test that compares at least one tensor against a
 * reference yields a result (tests that only check error messages are run for their side
 * effects on nothing and skipped here). `onResult` sees each as it completes.
 */
export async function runConformance(
  files: ConformanceFile[],
  onResult: (r: ConformanceResult, done: number, total: number | null) => void = () => {},
): Promise<ConformanceResult[]> {
  const out: ConformanceResult[] = [];
  for (const f of files) {
    const reg = await collect(f.load);
    const stem = f.file.replace(/^.*\//, '').replace(/\.test\.ts$/, '');
    for (const b of reg.before) await b();
    for (const t of reg.tests) {
      const records: CheckRecord[] = [];
      const off = onCheck((r) => records.push(r));
      const t0 = performance.now();
      let error: string | undefined;
      try {
        await t.fn();
      } catch (e) {
        error = String((e as Error)?.message ?? e).split('\n')[0];
      } finally {
        off();
      }
      if (!records.length && !error) continue;
      const worst = records.reduce<CheckRecord | null>((w, r) => (!w || r.worstRatio > w.worstRatio ? r : w), null);
      const r: ConformanceResult = {
        name: `${stem}: ${t.name}`,
        file: f.file,
        worstError: worst ? worst.maxAbs : NaN,
        tolerance: worst ? worst.tol : { atol: NaN, rtol: NaN },
        worstRatio: worst ? worst.worstRatio : NaN,
        worstLabel: worst ? worst.label : '',
        checks: records.length,
        pass: !error && records.every((x) => x.pass),
        ms: performance.now() - t0,
        ...(error ? { error } : {}),
      };
      out.push(r);
      onResult(r, out.length, null);
    }
    for (const a of reg.after) await a();
  }
  return out;
}
