/**
 * rbd: the command-line entry point. Each subcommand lives in cli/commands/<name>.ts and
 * exports `help` (its --help text) and `run(argv)`. Commands are loaded lazily so that
 * `rbd --help` starts fast.
 *
 * Exit codes: 0 success, 1 a runtime error (bad data, a GPU error, a missing file found while
 * working), 2 a usage error (unknown command or flag, a flag value out of range, a missing
 * required flag: anything `rbd <command> --help` would have told the user).
 *
 * The command runs in a child process whose stderr this process filters, dropping Dawn's limit
 * notices (cli/dawn_notices.ts says why it cannot be done at the source); RBD_DEBUG=dawn runs it
 * in this process with them.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DawnNoticeFilter } from './dawn_notices.ts';
import { UsageError } from './usage_error.ts';
import { checkEnvironment, debug, stderrIsFiltered, stderrTtyVariable, VARIABLES, DEBUG_SWITCHES } from '../util/env.ts';

interface CommandModule {
  help: string;
  run(argv: string[]): Promise<number | void>;
  /** True when the command has subcommands and prints their own --help itself. */
  handlesHelp?: boolean;
}

/** name -> [one-line summary, loader]. Keep sorted by the order a user meets them. */
const COMMANDS: Record<string, [string, () => Promise<CommandModule>]> = {
  info: ['list the WebGPU adapters found, their limits and features, and which one is chosen', () => import('./commands/info.ts')],
  synth: ['generate the synthetic H&E data set (all magnifications, manifest with mean/std)', () => import('./commands/synth.ts')],
  tile: [
    'whole-slide images (SVS, pyramidal TIFF, OME-TIFF) to tiles at a resolution: tissue mask, splits by patient, manifest',
    () => import('./commands/tile.ts'),
  ],
  teacher: ['train the teacher with labels at the top magnification (checkpoints, log, --resume)', () => import('./commands/teacher.ts')],
  baseline: [
    'train the student network with labels only at a low magnification (the comparison arm)',
    () => import('./commands/baseline.ts'),
  ],
  distill: [
    'resolution-based distillation: a student at low magnification learns from a frozen teacher, no labels',
    () => import('./commands/distill.ts'),
  ],
  eval: [
    'evaluate a checkpoint per split: loss, accuracy, per-class and macro AUC, confusion matrix, bootstrap CIs, ROC plots',
    () => import('./commands/eval.ts'),
  ],
  study: [
    'the main job (npm start): data, teacher, baseline/KD/KD+unlabeled per magnification, report',
    () => import('./commands/study.ts'),
  ],
  infer: [
    'run a checkpoint on a tensor file (--input/--out, for exact comparisons) or on images (class probabilities)',
    () => import('./commands/infer.ts'),
  ],
  bench: ['benchmarks: kernels, flops, speed (vs the roofline), compare, report (`rbd bench --help`)', () => import('./commands/bench.ts')],
  web: [
    'the engine in a browser: static page with adapter info, kernel conformance and the benchmark (--out DIR | --serve)',
    () => import('./commands/web.ts'),
  ],
  tune: [
    "time every kernel variant on the model's shapes and cache the fastest per adapter (rbd info shows the choices in force)",
    () => import('./commands/tune.ts'),
  ],
  profile: [
    'one distillation training step per phase, op and kernel (GPU time, FLOPs, share); Chrome trace for Perfetto',
    () => import('./commands/profile.ts'),
  ],
};

const USAGE = `rbd: resolution-based knowledge distillation for histology, on hand-written WGSL kernels (WebGPU)

usage: rbd [global flags] <command> [flags]      rbd <command> --help for a command's flags

commands:
${Object.entries(COMMANDS)
  .map(([n, [s]]) => `  ${n.padEnd(10)} ${s}`)
  .join('\n')}

global flags (before the command; --adapter is also accepted after it, and wins there):
  --adapter auto|vulkan|gl|<name>   which WebGPU adapter to use (default: env RBD_ADAPTER, else auto:
                                    a hardware GPU, else Vulkan lavapipe, else OpenGL ES)
  -h, --help                        this text
  -v, --version                     the version of rbd

exit codes: 0 success, 1 runtime error, 2 usage error

environment:
${Object.entries(VARIABLES)
  .map(([n, s]) => `  ${n.padEnd(16)}${s}`)
  .join('\n')}
RBD_DEBUG switches:
${Object.entries(DEBUG_SWITCHES)
  .map(([n, s]) => `  ${n.padEnd(16)}${s}`)
  .join('\n')}
`;

/** The leading global flags, then the command and its arguments. */
function splitGlobalFlags(argv: string[]): { adapter?: string; help: boolean; version: boolean; rest: string[] } {
  const out: { adapter?: string; help: boolean; version: boolean; rest: string[] } = { help: false, version: false, rest: [] };
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-'); i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') out.help = true;
    else if (a === '-v' || a === '--version') out.version = true;
    else if (a === '--adapter') {
      if (i + 1 >= argv.length) throw new UsageError('', '--adapter needs a value: auto, vulkan, gl or a name substring');
      out.adapter = argv[++i];
    } else if (a.startsWith('--adapter=')) out.adapter = a.slice('--adapter='.length);
    else throw new UsageError('', `unknown global flag '${a}' (global flags: --adapter, --help, --version; a command's flags go after it)`);
  }
  out.rest = argv.slice(i);
  return out;
}

async function main(argv: string[]): Promise<number> {
  for (const problem of checkEnvironment()) console.error(`rbd: warning: ${problem}`);
  const g = splitGlobalFlags(argv);
  const [name, ...rest] = g.rest;
  if (g.version) {
    console.log(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
    return 0;
  }
  if (name === 'help' || (!name && g.help)) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!name) {
    process.stderr.write(USAGE);
    throw new UsageError('', 'name a command');
  }
  const entry = COMMANDS[name];
  if (!entry) throw new UsageError('', `unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
  (await import('./runtime.ts')).setGlobalAdapter(g.adapter);
  const mod = await entry[1]();
  if (g.help || (!mod.handlesHelp && (rest.includes('--help') || rest.includes('-h')))) {
    process.stdout.write(mod.help.endsWith('\n') ? mod.help : mod.help + '\n');
    return 0;
  }
  return (await mod.run(rest)) ?? 0;
}

/** One line for the user: the message, without a stack unless RBD_DEBUG=stack asks for it. */
function formatError(err: unknown): string {
  const e = err as Error;
  if (debug('stack')) return e?.stack ?? String(err);
  const msg = e?.message ?? String(err);
  return msg.startsWith('rbd') ? msg : `rbd: ${msg}`;
}

function runHere(argv: string[]) {
  main(argv).then(
    (code) => process.exit(code),
    (err) => {
      console.error(formatError(err));
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}

/**
 * Run this same entry point as a child with a piped stderr, pass its output on without Dawn's
 * notices, and end with its exit status. Ctrl-C reaches the child directly (same process group);
 * a SIGTERM sent to this process alone is passed on.
 */
function runFiltered(argv: string[]) {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
    // The IPC channel only tells the child when this process is gone (see the end of this file).
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, ...stderrTtyVariable(Boolean(process.stderr.isTTY)) },
  });
  const filter = new DawnNoticeFilter((text) => process.stderr.write(text));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => filter.write(chunk));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (signal !== 'SIGINT') child.kill(signal);
    });
  }
  child.on('error', (e) => {
    console.error(`rbd: cannot start the command process: ${e.message}`);
    process.exit(1);
  });
  child.on('close', (code, signal) => {
    filter.end();
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exitCode = code ?? 1;
  });
}

const argv = process.argv.slice(2);
// Help and the version touch no GPU, so they need no filter; neither does a child already filtered.
const quick = argv.length === 0 || argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-v');
if (stderrIsFiltered() && process.channel) {
  // The child of a filtering parent ends with it: killed parents leave no command running alone.
  process.channel.unref();
  process.on('disconnect', () => process.exit(1));
}
if (quick || stderrIsFiltered() || debug('dawn')) runHere(argv);
else runFiltered(argv);
