/**
 * Every environment variable the project reads, declared here and nowhere else: the rest of the
 * code asks this module (`env.adapter()`, `debug('sync')`, ...) instead of reading
 * `process.env.RBD_*`. The README lists the same table (a test checks that it does).
 * `VARIABLES` below is the documentation: one line per variable, printed by `rbd --help`.
 */

/** RBD_DEBUG switches, name -> what it does. */
export const DEBUG_SWITCHES = {
  sync: 'submit after every dispatch, so a GPU error names exactly one kernel',
  wgsl: "print each kernel's WGSL when it compiles",
  dispatch: 'log every dispatch (kernel, workgroups, uniforms)',
  stack: 'print stack traces with errors',
  dawn: "let Dawn's own notices through to stderr (e.g. 'maxDynamic... artificially reduced')",
} as const;

export type DebugSwitch = keyof typeof DEBUG_SWITCHES;

/** Every variable: name -> one line of what it means. */
export const VARIABLES = {
  RBD_ADAPTER: 'default for --adapter: auto, vulkan, gl or a name substring (default auto)',
  RBD_DEBUG: `comma list of debug switches: ${Object.keys(DEBUG_SWITCHES).join(', ')}`,
  RBD_VARIANT:
    'force kernel variants: op:variant[,op:variant] (e.g. conv2d.forward:general-invocation-wgfit; an unusable or unknown one is an error listing the usable ones)',
  RBD_TUNE_CACHE: "the tuned variant choices 'rbd tune' writes and every command reads (default ~/.cache/rbd-webgpu/tune.json)",
  RBD_CACHE: 'folder for derived images and channel statistics of data sets without a manifest (default ~/.cache/rbd)',
  RBD_TEST_QUIET: '1: the closeness checks do not print their worst errors',
  RBD_TEST_GL: '0: npm test skips its second pass on the OpenGL ES adapter',
  RBD_TEST_PASS: "set by the test runner to 'gl' in the processes of that second pass",
  RBD_TEST_BROWSER: '0: npm test skips its third group, the web page in headless Chromium (SwiftShader WebGPU)',
  RBD_TEST_ARTIFACTS: 'folder where tests keep artifacts such as the web page screenshot (default test-artifacts/)',
  RBD_CHROMIUM: 'the Chromium the browser tests drive (default /usr/bin/chromium)',
  RBD_SETUP_CHROMIUM: "0: scripts/setup.sh does not install Debian's chromium (the browser tests then need RBD_TEST_BROWSER=0)",
  RBD_STDERR_TTY: 'set by rbd itself for the process whose stderr it filters: 1 when that stderr ends at a terminal',
} as const;

export type VariableName = keyof typeof VARIABLES;

function read(name: VariableName): string | undefined {
  // A browser has no process (and no environment): every variable reads as unset there.
  const v = typeof process === 'undefined' ? undefined : process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** The RBD_DEBUG switches that are on (unknown names are reported by checkEnvironment). */
export function debugSwitches(): Set<string> {
  return new Set(
    (read('RBD_DEBUG') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** Whether an RBD_DEBUG switch is on. Read each time: tests and the CLI may set it late. */
export function debug(name: DebugSwitch): boolean {
  return debugSwitches().has(name);
}

export const env = {
  /** The adapter choice when no --adapter is given. */
  adapter: (): string => read('RBD_ADAPTER') ?? 'auto',
  /** The forced kernel variants (engine/variant_choice.ts parses them), or undefined. */
  variant: (): string | undefined => read('RBD_VARIANT'),
  /** The tune cache file set by RBD_TUNE_CACHE, else undefined (bench/tune_cache.ts has the default). */
  tuneCache: (): string | undefined => read('RBD_TUNE_CACHE'),
  /** The cache folder set by RBD_CACHE, else undefined (data/dataset.ts then uses ~/.cache/rbd). */
  cacheDir: (): string | undefined => read('RBD_CACHE'),
  testQuiet: (): boolean => read('RBD_TEST_QUIET') === '1',
  testGlPass: (): boolean => read('RBD_TEST_GL') !== '0',
  /** True in the test processes of the OpenGL ES pass. */
  onGlTestPass: (): boolean => read('RBD_TEST_PASS') === 'gl',
  testBrowserPass: (): boolean => read('RBD_TEST_BROWSER') !== '0',
  testArtifacts: (): string | undefined => read('RBD_TEST_ARTIFACTS'),
  chromium: (): string => read('RBD_CHROMIUM') ?? '/usr/bin/chromium',
};

/** For the filtering parent: the variables to give the child that writes through it. */
export function stderrTtyVariable(isTTY: boolean): Record<string, string> {
  return { RBD_STDERR_TTY: isTTY ? '1' : '0' };
}

/** Whether this process's stderr ends at a terminal through rbd's filtering parent. */
export function stderrIsTerminal(): boolean {
  return read('RBD_STDERR_TTY') === '1';
}

/** Whether this process is the child that rbd's filtering parent started. */
export function stderrIsFiltered(): boolean {
  return read('RBD_STDERR_TTY') !== undefined;
}

/**
 * What is wrong with the environment, one message per problem: RBD_* variables this project
 * does not read (a typo is otherwise silently ignored) and unknown RBD_DEBUG switches.
 */
export function checkEnvironment(vars: NodeJS.ProcessEnv = typeof process === 'undefined' ? {} : process.env): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(vars)) {
    if (name.startsWith('RBD_') && !(name in VARIABLES))
      problems.push(`${name} is not a variable rbd reads (it reads ${Object.keys(VARIABLES).join(', ')})`);
  }
  for (const s of (vars.RBD_DEBUG ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!(s in DEBUG_SWITCHES)) problems.push(`RBD_DEBUG switch '${s}' is unknown (known: ${Object.keys(DEBUG_SWITCHES).join(', ')})`);
  }
  return problems;
}
