/**
 * The flags that `rbd teacher`, `rbd baseline` and `rbd distill` share: their parseArgs
 * options, their --help lines (with defaults, generated from the same values the parser
 * uses, so help and behaviour cannot disagree), and their conversion to CommonTrainOptions.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { numberFlag, UsageError, adapterHelp, precisionHelp, PRECISION_OPTION } from './flags.ts';
import { COMMON_DEFAULTS, type CommonTrainOptions } from '../train/common.ts';
import { RESUME_FILE } from '../train/train_state.ts';

export const DEFAULT_DATA = join('runs', 'data', 'synthetic');

export const COMMON_OPTIONS = {
  data: { type: 'string' },
  out: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  accum: { type: 'string' },
  lr: { type: 'string' },
  'weight-decay': { type: 'string' },
  gamma: { type: 'string' },
  seed: { type: 'string' },
  'no-augment': { type: 'boolean' },
  resume: { type: 'boolean' },
  limit: { type: 'string' },
  arch: { type: 'string' },
  init: { type: 'string' },
  'allow-upsampled': { type: 'boolean' },
  'skip-bad': { type: 'boolean' },
  crop: { type: 'string' },
  quiet: { type: 'boolean' },
  ...PRECISION_OPTION,
} as const;

export function commonHelp(defaultOut: string): string {
  const d = COMMON_DEFAULTS;
  return `  --data DIR            data set folder, ImageFolder layout per magnification (default ${DEFAULT_DATA})
  --out DIR             run folder: config.json, log.jsonl, model/best/resume .safetensors (default ${defaultOut})
  --epochs N            epochs (default ${d.epochs})
  --batch N             images per micro-batch, all of one size (default ${d.batch})
  --accum N             micro-batches per optimizer step; effective batch = batch x accum (default ${d.accum})
  --lr X                Adam learning rate (default ${d.lr})
  --weight-decay X      L2 weight decay added to the gradient, PyTorch Adam semantics (default ${d.weightDecay})
  --gamma X             exponential LR decay per epoch: lr * gamma^epoch (default ${d.gamma})
  --seed N              seed of initialization, shuffling and augmentation (default ${d.seed})
  --no-augment          no flips/rotations/colour jitter (default: augment)
  --resume              continue the run in --out from its resume.safetensors, exactly where it stopped
                        (an error when --out holds no such run)
  --limit N             use at most N labelled training images, 0 = all (default ${d.limit})
  --arch NAME           architecture preset: rbd (the method's ResNet) or resnet18 (default ${d.arch})
  --init CKPT           start from these weights instead of a random init: a checkpoint or a PyTorch
                        state_dict (safetensors) in the method's or torchvision's ResNet names; the
                        architecture comes from the file (--arch is ignored); a classifier for
                        other classes is drawn anew
  --allow-upsampled     accept images larger than their magnification implies (upsampled; refused by default)
  --skip-bad            skip unreadable images, naming each once, instead of stopping (default: stop)
  --crop PX             train on random PX x PX crops of each tile (labels-only runs at one magnification;
                        validation and test see whole tiles); 0 = whole tiles (default 0)
  --quiet               no progress bar or per-epoch lines
${precisionHelp(22)}
${adapterHelp(22)}`;
}

type Values = Record<string, string | boolean | undefined>;

export function commonOptions(command: string, v: Values, defaultOut: string): CommonTrainOptions {
  const d = COMMON_DEFAULTS;
  const int = (name: string, fallback: number, min: number) =>
    numberFlag(command, name, v[name] as string | undefined, fallback, { integer: true, min });
  const num = (name: string, fallback: number, min: number) => numberFlag(command, name, v[name] as string | undefined, fallback, { min });
  if (v.resume) {
    if (v.out === undefined) throw new UsageError(command, '--resume continues the run in --out; give --out DIR, the folder of that run');
    const path = join(v.out as string, RESUME_FILE);
    if (!existsSync(path))
      throw new UsageError(
        command,
        `--resume: ${path} does not exist, so there is no run to continue in ${v.out}; give --out the folder of the run to continue, or drop --resume to start a new one`,
      );
  }
  const lr = num('lr', d.lr, 0);
  if (lr === 0) throw new UsageError(command, '--lr must be above 0');
  return {
    data: (v.data as string | undefined) ?? DEFAULT_DATA,
    out: (v.out as string | undefined) ?? defaultOut,
    epochs: int('epochs', d.epochs, 1),
    batch: int('batch', d.batch, 1),
    accum: int('accum', d.accum, 1),
    lr,
    weightDecay: num('weight-decay', d.weightDecay, 0),
    gamma: num('gamma', d.gamma, 0),
    seed: int('seed', d.seed, 0),
    augment: !v['no-augment'],
    resume: Boolean(v.resume),
    limit: int('limit', d.limit, 0),
    arch: (v.arch as string | undefined) ?? d.arch,
    init: v.init as string | undefined,
    verbose: !v.quiet,
    skipBad: Boolean(v['skip-bad']),
    crop: int('crop', 0, 0),
  };
}

/** A default run folder: runs/<command>-<mag>-<UTC time>. */
export function defaultRunDir(command: string, mag: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return join('runs', `${command}${mag ? `-${mag}` : ''}-${stamp}`);
}
