/** rbd study: the main job (npm start). */
import { parseFlags, numberFlag, adapterHelp, UsageError } from '../flags.ts';
import { openRuntime, closeRuntime } from '../runtime.ts';
import { runStudy, STUDY_PRESETS } from '../../train/study.ts';

const q = STUDY_PRESETS.quick,
  d = STUDY_PRESETS.default,
  f = STUDY_PRESETS.full;
const describe = (p: typeof d) =>
  `${p.tile} px tiles at ${p.mags[0]} (${p.classes} classes), ${p.train}/${p.val}/${p.test} train/val/test tiles per class, ${p.unlabeled} unlabeled; ` +
  (p.budgetMinutes !== null
    ? `teacher up to ${p.teacherEpochs} epochs, students up to ${p.studentEpochs}, planned from timed steps to fill ${p.budgetMinutes} min of wall clock in all (data generation included); `
    : `teacher ${p.teacherEpochs} epochs, students ${p.studentEpochs}; `) +
  `batch ${p.batch} x accum ${p.accum}, lr ${p.lr}${p.warmupEpochs ? ` (linear warm-up over ${p.warmupEpochs} epoch, at most a quarter of a run)` : ''}; unlabeled sweep at ${p.mags[p.mags.length - 1]}: 0, ${p.sweep.join(', ')}, ${p.unlabeled}`;

export const help = `usage: rbd study [--quick | --full] [flags]        (npm start [-- flags])

The whole study on the built-in synthetic data, from nothing: generate the data if absent,
train the teacher at ${d.mags[0]}, then for each student magnification (${d.mags.slice(1).join(', ')}) the labels-only
baseline, distillation on the labelled images (labels unused), distillation adding the
unlabeled pool, and the ceiling (labels on the labelled set plus the pool's true labels, which
only synthetic data has), plus a sweep of the unlabeled-pool size at the lowest magnification;
evaluate every model on the test split (bootstrap 95% CIs) and compare arms with paired
bootstrap intervals over the same test images; write runs/<UTC time>/report.md, report.html
(self-contained, inline SVG plots) and results.json. Before training, a few timed steps on this
adapter fix the epochs (for presets with a time budget, the most that fill it) and the expected
duration, which is printed.

presets:
  (default)   planned to finish within 15 minutes on a quiet 2-core CPU through lavapipe (an
              adapter too slow for that still runs 1 epoch per arm, and says so): ${describe(d)}
  --quick     a smoke run of under 3 minutes (its numbers mean little): ${describe(q)}
  --full      the paper's scale, for a real GPU: ${describe(f)}

flags:
  --data DIR        data set to use: a folder in the layout DIR/<mag>/{train,val,test}/<class>/*.png at
                    the preset's magnifications (lower ones may be derived from the top one), with or
                    without a manifest; synthetic data is generated into it only when it is absent or
                    empty (default runs/data/<preset>-<classes>-t<tile>-s<seed>, generated if absent)
  --runs DIR        where the run folder goes (default runs)
  --seed N          seed of data generation, initialization, shuffling, augmentation, bootstrap (default 0)
  --resume RUN_DIR  continue a killed study: finished arms are kept, the unfinished one continues
                    from its last epoch checkpoint; preset, seed and data come from RUN_DIR/study.json
  --quiet           only the final lines
  --skip-bad        skip unreadable images, naming each once, instead of stopping (default: stop)
${adapterHelp(20)}
`;

export async function run(argv: string[]) {
  const { values } = parseFlags('study', argv, {
    quick: { type: 'boolean' },
    full: { type: 'boolean' },
    data: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    quiet: { type: 'boolean' },
    'skip-bad': { type: 'boolean' },
    resume: { type: 'string' },
  });
  if (values.quick && values.full) throw new UsageError('study', '--quick and --full are exclusive');
  if (values.resume && (values.quick || values.full || values.seed !== undefined))
    throw new UsageError(
      'study',
      `--resume takes the preset and seed of the run it continues (${values.resume}/study.json); drop --quick/--full/--seed`,
    );
  const preset = values.quick ? q : values.full ? f : d;
  await openRuntime(values.adapter);
  try {
    const { dir, results } = await runStudy({
      preset,
      data: values.data ?? null,
      runsRoot: values.runs ?? 'runs',
      seed: numberFlag('study', 'seed', values.seed, 0, { integer: true, min: 0 }),
      verbose: !values.quiet,
      skipBad: Boolean(values['skip-bad']),
      resume: values.resume ?? null,
    });
    console.log(
      `study done in ${(results.durationSeconds / 60).toFixed(1)} min (expected ${(results.expectedSeconds / 60).toFixed(1)}): ${dir}/report.md, report.html, results.json`,
    );
  } finally {
    await closeRuntime();
  }
  return 0;
}
