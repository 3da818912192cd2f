/** rbd teacher: supervised training of the teacher at the top magnification. */
import { parseFlags, magFlag, precisionFlag } from '../flags.ts';
import { openRuntime, closeRuntime } from '../runtime.ts';
import { COMMON_OPTIONS, commonHelp, commonOptions, defaultRunDir } from '../train_flags.ts';
import { trainSupervised } from '../../train/supervised.ts';
import { printSummary } from '../../train/summary.ts';

export const help = `usage: rbd teacher [flags]

Trains the teacher with labels (cross-entropy) at a high magnification: Adam with weight decay,
exponential LR decay per epoch, seeded. After every epoch it evaluates the validation split and
writes, atomically, model.safetensors (last epoch), best.safetensors (best validation accuracy)
and resume.safetensors (weights + optimizer state, for --resume), and appends to log.jsonl.
A NaN or infinite loss stops the run, naming the step; the last good checkpoint is kept.

  --mag MAG             magnification to train at (default: the highest in the data, e.g. 10x)
${commonHelp('runs/teacher-<mag>-<UTC time>')}
`;

export async function run(argv: string[]) {
  const { values } = parseFlags('teacher', argv, { ...COMMON_OPTIONS, mag: { type: 'string' } });
  const mag = magFlag('teacher', 'mag', values.mag, '');
  const common = commonOptions('teacher', values, defaultRunDir('teacher', mag));
  await openRuntime(values.adapter, precisionFlag('teacher', values.precision));
  try {
    const s = await trainSupervised({ ...common, role: 'teacher', mag, allowUpsampled: Boolean(values['allow-upsampled']) });
    printSummary(s);
  } finally {
    await closeRuntime();
  }
  return 0;
}
