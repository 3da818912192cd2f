/**
 * The part of uvu's API the kernel tests use (`test(name, fn)`, `test.before`, `test.after`,
 * `test.run`), as a collector: the browser build maps the import 'uvu' here
 * (web/build.ts), so the page runs test/ops/*.test.ts and test/optim/*.test.ts themselves,
 * with their own shapes, references and tolerances, and conformance/suite.ts runs what they
 * registered. In Node the tests use uvu itself.
 */
export type TestFn = () => unknown | Promise<unknown>;

export interface Registered {
  tests: { name: string; fn: TestFn }[];
  before: TestFn[];
  after: TestFn[];
}

let current: Registered | null = null;

/** Collect the registrations of one test file while `load` imports it. */
export async function collect(load: () => Promise<unknown>): Promise<Registered> {
  const reg: Registered = { tests: [], before: [], after: [] };
  current = reg;
  try {
    await load();
  } finally {
    current = null;
  }
  return reg;
}

function target(): Registered {
  if (!current) throw new Error('a test was registered outside conformance collect(): import test files through conformance/suite.ts');
  return current;
}

interface TestApi {
  (name: string, fn: TestFn): void;
  before(fn: TestFn): void;
  after(fn: TestFn): void;
  skip(name: string, fn: TestFn): void;
  only(name: string, fn: TestFn): void;
  run(): void;
}

export const test: TestApi = Object.assign((name: string, fn: TestFn) => void target().tests.push({ name, fn }), {
  before: (fn: TestFn) => void target().before.push(fn),
  after: (fn: TestFn) => void target().after.push(fn),
  skip: () => {},
  only: (name: string, fn: TestFn) => void target().tests.push({ name, fn }),
  // uvu runs the suite here; the collector's caller runs it instead.
  run: () => {},
});

/** uvu's `suite(name)`: the same collector (the kernel tests do not use named suites). */
export function suite(): TestApi {
  return test;
}
