/** rbd distill: resolution-based knowledge distillation from a high-magnification teacher. */
import { parseFlags, numberFlag, magFlag, UsageError, precisionFlag } from '../flags.ts';
import { openRuntime, closeRuntime } from '../runtime.ts';
import { COMMON_OPTIONS, commonHelp, commonOptions, defaultRunDir } from '../train_flags.ts';
import { trainDistill, DEFAULT_AUGMENT_SET } from '../../train/distill.ts';
import { DEFAULT_DISTILL_LOSS as D, PIXEL_RESIZES, type PixelResize, type PixelLossKind } from '../../train/distill_loss.ts';
import { printSummary } from '../../train/summary.ts';

const DEFAULT_MAG = '2.5x';

function augmentSetFlag(value: string | undefined): number {
  const n = numberFlag('distill', 'augment-set', value, DEFAULT_AUGMENT_SET, { integer: true, min: 8 });
  if (n % 8 !== 0)
    throw new UsageError(
      'distill',
      `--augment-set must be a multiple of 8 (the flips and turns of a square times the colour draws), got ${n}`,
    );
  return n;
}

export const help = `usage: rbd distill --teacher CKPT [flags]

The method: a frozen teacher (eval mode, no gradients) sees each tile at its magnification; the
student (same network) sees the same tile at --mag, with the same augmentation, and learns from
the teacher's outputs alone:
  loss = soft-weight * T^2 * KLDiv(log_softmax(student/T), softmax(teacher/T))   [batchmean]
       + pixel-weight * pixel-loss(student stage-4 map, teacher stage-4 map resized to it)
       + ce-weight * cross-entropy(student, labels)                            [off by default]
No labels are used for training: the labelled training images go in without their labels,
plus --unlabeled images from the unlabeled pool. Validation labels only select best.safetensors.
Checkpoints, log, --resume and NaN handling as rbd teacher.

  --teacher CKPT        teacher checkpoint (rbd teacher's best.safetensors); its magnification
                        and classes are read from it and must match the data (required)
  --teacher-mag MAG     the teacher's magnification, for a teacher that does not record it (a
                        PyTorch state_dict, in the method's or torchvision's ResNet names:
                        conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, fc; BatchNorm or GroupNorm)
  --classes a,b,c       the teacher's classes in the order of its outputs (same case), for a
                        teacher without class names; must be the data's classes
  --teacher-groups G    GroupNorm groups of a bare GroupNorm teacher (not stored in a state_dict;
                        default 32)
                        The student has the teacher's architecture (--arch is not used), unless
                        --init gives it weights of its own
  --mag MAG             student magnification, below the teacher's (default ${DEFAULT_MAG})
  --temperature T       softmax temperature of the soft loss (default ${D.temperature})
  --soft-weight W       weight of the soft (KL) loss (default ${D.softWeight})
  --pixel-weight W      weight of the pixel loss (default ${D.pixelWeight})
  --pixel-loss l2|l1    mean squared error or mean absolute error (default ${D.pixelLoss})
  --resize MODE         how the teacher's map is brought to the student's size: maxpool (adaptive
                        max pool), bicubic (align_corners false), or maxpool+bicubic, the average
                        of the two (default ${D.resize}; the official code's branch logic applies
                        only the max-pool half and halves it: we implement the intended average)
  --ce-weight W         cross-entropy on labelled images, for comparison (default ${D.ceWeight}: none);
                        applied to micro-batches made only of labelled images (with --unlabeled,
                        batches that mix in unlabeled images get no label term)
  --unlabeled N         add up to N images of the data's unlabeled pool (default 0)
  --cache-teacher       compute the teacher's outputs once per tile and augmentation and reuse them
                        every epoch: augmentation draws from a fixed table of --augment-set entries
                        (8 flips/turns x colour draws); stated in config.json when used
  --augment-set N       entries of that table, a multiple of 8 (default ${DEFAULT_AUGMENT_SET})
  --teacher-cache DIR   also keep the cached outputs in DIR, keyed by teacher, tile and augmentation
                        (default: memory only)
${commonHelp('runs/distill-<mag>-<UTC time>')}
`;

export async function run(argv: string[]) {
  const { values } = parseFlags('distill', argv, {
    ...COMMON_OPTIONS,
    teacher: { type: 'string' },
    mag: { type: 'string' },
    temperature: { type: 'string' },
    'soft-weight': { type: 'string' },
    'pixel-weight': { type: 'string' },
    'pixel-loss': { type: 'string' },
    resize: { type: 'string' },
    'ce-weight': { type: 'string' },
    unlabeled: { type: 'string' },
    'cache-teacher': { type: 'boolean' },
    'augment-set': { type: 'string' },
    'teacher-cache': { type: 'string' },
    'teacher-mag': { type: 'string' },
    classes: { type: 'string' },
    'teacher-groups': { type: 'string' },
  });
  const teacherMag = values['teacher-mag'] === undefined ? undefined : magFlag('distill', 'teacher-mag', values['teacher-mag'], '');
  const teacherClasses = values.classes
    ?.split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  if (values.classes !== undefined && !teacherClasses?.length)
    throw new UsageError('distill', `--classes must list class names, got '${values.classes}'`);
  const teacherGroups =
    values['teacher-groups'] === undefined
      ? undefined
      : numberFlag('distill', 'teacher-groups', values['teacher-groups'], 32, { integer: true, min: 1 });
  if (!values.teacher)
    throw new UsageError(
      'distill',
      '--teacher CKPT is required (a checkpoint written by rbd teacher, e.g. runs/teacher-10x-.../best.safetensors)',
    );
  const mag = magFlag('distill', 'mag', values.mag, DEFAULT_MAG);
  const pixelLoss = (values['pixel-loss'] ?? D.pixelLoss) as PixelLossKind;
  if (pixelLoss !== 'l2' && pixelLoss !== 'l1') throw new UsageError('distill', `--pixel-loss must be l2 or l1, got '${pixelLoss}'`);
  const resize = (values.resize ?? D.resize) as PixelResize;
  if (!PIXEL_RESIZES.includes(resize))
    throw new UsageError('distill', `--resize must be one of ${PIXEL_RESIZES.join(', ')}, got '${resize}'`);
  const temperature = numberFlag('distill', 'temperature', values.temperature, D.temperature, { min: 1e-3 });
  const softWeight = numberFlag('distill', 'soft-weight', values['soft-weight'], D.softWeight, { min: 0 });
  const pixelWeight = numberFlag('distill', 'pixel-weight', values['pixel-weight'], D.pixelWeight, { min: 0 });
  const ceWeight = numberFlag('distill', 'ce-weight', values['ce-weight'], D.ceWeight, { min: 0 });
  if (softWeight === 0 && pixelWeight === 0 && ceWeight === 0)
    throw new UsageError('distill', 'every loss weight is 0; set --soft-weight or --pixel-weight above 0');
  const unlabeled = numberFlag('distill', 'unlabeled', values.unlabeled, 0, { integer: true, min: 0 });
  const common = commonOptions('distill', values, defaultRunDir('distill', mag));
  await openRuntime(values.adapter, precisionFlag('distill', values.precision));
  try {
    const s = await trainDistill({
      ...common,
      teacher: values.teacher,
      teacherMag,
      teacherClasses,
      teacherGroups,
      mag,
      temperature,
      softWeight,
      pixelWeight,
      pixelLoss,
      resize,
      ceWeight,
      unlabeled,
      cacheTeacher: Boolean(values['cache-teacher'] || values['teacher-cache']),
      teacherCacheDir: values['teacher-cache'] ?? null,
      augmentSet: augmentSetFlag(values['augment-set']),
      allowUpsampled: Boolean(values['allow-upsampled']),
    });
    printSummary(s);
  } finally {
    await closeRuntime();
  }
  return 0;
}
