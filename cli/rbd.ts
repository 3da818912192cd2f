/**
 * rbd: the command-line entry point. Each subcommand lives in cli/commands/<name>.ts and
 * exports `help` (its --help text) and `run(argv)`. Commands are loaded lazily so that
 * `rbd --help` starts fast.
 */
import { formatError } from './util.ts';

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
  tile: ['whole-slide images (SVS, pyramidal TIFF, OME-TIFF) to tiles at a resolution: tissue mask, splits by patient, manifest', () => import('./commands/tile.ts')],
  teacher: ['train the teacher with labels at the top magnification (checkpoints, log, --resume)', () => import('./commands/teacher.ts')],
  baseline: ['train the student network with labels only at a low magnification (the comparison arm)', () => import('./commands/baseline.ts')],
  distill: ['resolution-based distillation: a student at low magnification learns from a frozen teacher, no labels', () => import('./commands/distill.ts')],
  eval: ['evaluate a checkpoint per split: loss, accuracy, per-class and macro AUC, confusion matrix, bootstrap CIs, ROC plots', () => import('./commands/eval.ts')],
  study: ['the main job (npm start): data, teacher, baseline/KD/KD+unlabeled per magnification, report', () => import('./commands/study.ts')],
  infer: ['run a checkpoint on a tensor file (--input/--out, for exact comparisons) or on images (class probabilities)', () => import('./commands/infer.ts')],
  bench: ['benchmarks: kernels, flops, speed (vs the roofline), compare, report (`rbd bench --help`)', () => import('./commands/bench.ts')],
  web: ['the engine in a browser: static page with adapter info, kernel conformance and the benchmark (--out DIR | --serve)', () => import('./commands/web.ts')],
  profile: ['one distillation training step per phase, op and kernel (GPU time, FLOPs, share); Chrome trace for Perfetto', () => import('./commands/profile.ts')],
};

const USAGE = `rbd: resolution-based knowledge distillation for histology, on hand-written WGSL kernels (WebGPU)

usage: rbd <command> [flags]      rbd <command> --help for a command's flags

commands:
${Object.entries(COMMANDS).map(([n, [s]]) => `  ${n.padEnd(10)} ${s}`).join('\n')}

global flags:
  --adapter auto|vulkan|gl|<name>   which WebGPU adapter to use (default: env RBD_ADAPTER, else auto:
                                    a hardware GPU, else Vulkan lavapipe, else OpenGL ES)
  -h, --help                        this text
environment:
  RBD_ADAPTER     default for --adapter
  RBD_DEBUG       comma list: sync (submit after every dispatch, so GPU errors name one kernel),
                  wgsl (print each kernel's WGSL when it compiles), dispatch (log every dispatch)
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    const { readFileSync } = await import('node:fs');
    console.log(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`rbd: unknown command '${name}'. Commands: ${Object.keys(COMMANDS).join(', ')}. See 'rbd --help'.`);
    return 2;
  }
  const mod = await entry[1]();
  if (!mod.handlesHelp && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(mod.help.endsWith('\n') ? mod.help : mod.help + '\n');
    return 0;
  }
  return (await mod.run(rest)) ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(formatError(err));
    process.exit(1);
  },
);
