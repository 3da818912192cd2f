/** rbd eval: a checkpoint's metrics per split, with bootstrap confidence intervals and plots. */
import { parseFlags, numberFlag, magFlag, adapterHelp, UsageError, precisionFlag, precisionHelp, PRECISION_OPTION } from '../flags.ts';
import { openRuntime, closeRuntime } from '../runtime.ts';
import { DEFAULT_DATA } from '../train_flags.ts';
import { evaluateCheckpoint, formatEval } from '../../train/evaluate.ts';
import type { SplitName } from '../../data/loader.ts';

const SPLITS: SplitName[] = ['train', 'val', 'test'];
const DEFAULTS = { split: 'test', batch: 32, resamples: 1000, seed: 0 };

export const help = `usage: rbd eval --checkpoint CKPT [flags]

Evaluates a checkpoint on a data set: per split, the mean cross-entropy loss, accuracy, per-class
one-vs-rest ROC AUC (ties count one half), macro AUC (mean over classes), the confusion matrix,
and 95% percentile bootstrap intervals for accuracy and macro AUC (seeded resamples of the
split's images). Prints a table; writes eval.json, roc-<split>.svg and confusion-<split>.svg.

  --checkpoint CKPT     checkpoint to evaluate, e.g. a run's best.safetensors (required)
  --data DIR            data set folder (default ${DEFAULT_DATA})
  --split S             train, val, test, or a comma list, or all (default ${DEFAULTS.split})
  --mag MAG             magnification to evaluate at (default: the one the checkpoint records)
  --batch N             images per forward pass (default ${DEFAULTS.batch})
  --resamples N         bootstrap resamples, at least 1000 (default ${DEFAULTS.resamples})
  --seed N              bootstrap seed (default ${DEFAULTS.seed})
  --out DIR             where eval.json and the plots go (default: <checkpoint folder>/eval-<mag>)
  --allow-upsampled     accept images larger than their magnification implies
  --skip-bad            skip unreadable images, naming each once, instead of stopping (default: stop)
${precisionHelp(24)}
${adapterHelp(24)}
`;

export async function run(argv: string[]) {
  const { values } = parseFlags('eval', argv, {
    checkpoint: { type: 'string' },
    data: { type: 'string' },
    split: { type: 'string' },
    mag: { type: 'string' },
    batch: { type: 'string' },
    resamples: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    'allow-upsampled': { type: 'boolean' },
    'skip-bad': { type: 'boolean' },
    ...PRECISION_OPTION,
  });
  if (!values.checkpoint) throw new UsageError('eval', '--checkpoint CKPT is required');
  const splitFlag = values.split ?? DEFAULTS.split;
  const splits = (splitFlag === 'all' ? SPLITS : splitFlag.split(',').map((s) => s.trim())) as SplitName[];
  for (const s of splits) if (!SPLITS.includes(s)) throw new UsageError('eval', `--split '${s}' is not one of ${SPLITS.join(', ')}, all`);
  const mag = magFlag('eval', 'mag', values.mag, '');
  const resamples = numberFlag('eval', 'resamples', values.resamples, DEFAULTS.resamples, { integer: true, min: 1000 });
  await openRuntime(values.adapter, precisionFlag('eval', values.precision));
  try {
    const r = await evaluateCheckpoint({
      checkpoint: values.checkpoint,
      data: values.data ?? DEFAULT_DATA,
      splits,
      mag,
      batch: numberFlag('eval', 'batch', values.batch, DEFAULTS.batch, { integer: true, min: 1 }),
      resamples,
      seed: numberFlag('eval', 'seed', values.seed, DEFAULTS.seed, { integer: true, min: 0 }),
      out: values.out ?? null,
      allowUpsampled: Boolean(values['allow-upsampled']),
      skipBad: Boolean(values['skip-bad']),
    });
    console.log(formatEval(r));
  } finally {
    await closeRuntime();
  }
  return 0;
}
