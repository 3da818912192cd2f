/** rbd baseline: the student architecture trained with labels only, at the student magnification. */
import { parseFlags, magFlag, precisionFlag } from '../flags.ts';
import { openRuntime, closeRuntime } from '../runtime.ts';
import { COMMON_OPTIONS, commonHelp, commonOptions, defaultRunDir } from '../train_flags.ts';
import { trainSupervised } from '../../train/supervised.ts';
import { printSummary } from '../../train/summary.ts';

const DEFAULT_MAG = '2.5x';

export const help = `usage: rbd baseline [flags]

The comparison the paper makes: the student's network trained with labels only (cross-entropy)
at the student magnification, no teacher. Same loop, optimizer and checkpoints as rbd teacher.

  --mag MAG             magnification to train at (default ${DEFAULT_MAG})
${commonHelp('runs/baseline-<mag>-<UTC time>')}
`;

export async function run(argv: string[]) {
  const { values } = parseFlags('baseline', argv, { ...COMMON_OPTIONS, mag: { type: 'string' } });
  const mag = magFlag('baseline', 'mag', values.mag, DEFAULT_MAG);
  const common = commonOptions('baseline', values, defaultRunDir('baseline', mag));
  await openRuntime(values.adapter, precisionFlag('baseline', values.precision));
  try {
    const s = await trainSupervised({ ...common, role: 'baseline', mag, allowUpsampled: Boolean(values['allow-upsampled']) });
    printSummary(s);
  } finally {
    await closeRuntime();
  }
  return 0;
}
