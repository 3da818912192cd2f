/** rbd synth: generate the synthetic H&E data set (see data/synth/synthesize.ts). */
import { availableParallelism } from 'node:os';
import { synthesize, DEFAULT_MAGS } from '../../data/synth/synthesize.ts';
import { isClassSetName } from '../../data/synth/classes.ts';
import { DEFAULT_KNOBS } from '../../data/synth/render.ts';
import { parseFlags, numberFlag, UsageError } from '../flags.ts';
import { progress } from '../../util/progress.ts';

export const help = `usage: rbd synth --out DIR [flags]

Renders synthetic H&E tissue tiles at the top magnification and writes every lower
magnification by area downsampling (an exact pyramid), in the ImageFolder layout
  DIR/<mag>/{train,val,test}/<class>/*.png   DIR/<mag>/unlabeled/*.png   DIR/manifest.json
The manifest holds classes, magnifications, microns per pixel, tile sizes, counts, seed,
generator version and the per-channel mean/std of the training split at each magnification.
The same seed and flags give byte-identical files.

  --out DIR                 output folder: new, empty, or an earlier rbd synth output (with --overwrite)
  --seed S                  random seed (default 0)
  --train N                 training tiles per class (default 100)
  --val N                   validation tiles per class (default 20)
  --test N                  test tiles per class (default 20)
  --unlabeled N             unlabelled tiles in total, classes hidden (default 0)
  --tile PX                 tile side in pixels at the top magnification (default 256); must be a
                            multiple of the factor down to the lowest magnification
  --mags LIST               comma list of magnifications (default ${DEFAULT_MAGS.join(',')}); the highest
                            is rendered, each other one is a whole-number reduction of it
  --classes luad|cd         class set: luad = acinar, lepidic, micropapillary, papillary, solid
                            (default); cd = abnormal, normal, sprue
  --mpp X                   microns per pixel at the top magnification (default 10 / top mag: 1.0 at 10x)
  --arch-fidelity P         chance a tile shows its own class's architecture, the cue visible at low
                            magnification (default ${DEFAULT_KNOBS.architectureFidelity}); otherwise a random class's
  --nuclear-strength S      how far nuclear size/shape/atypia/chromatin, the cue visible only at high
                            magnification, depart from the all-class mean: 0 none, 1 full (default ${DEFAULT_KNOBS.nuclearStrength})
  --variation V             scale of every per-tile random spread (default ${DEFAULT_KNOBS.variation})
  --slides N                stainings ("slides") per split (default 12)
  --workers N               worker threads (default: the number of cores, ${availableParallelism()} here); 0 = main thread
  --overwrite               replace an earlier rbd synth output in DIR
`;

export async function run(argv: string[]) {
  const cmd = 'synth';
  const { values } = parseFlags(cmd, argv, {
    out: { type: 'string' },
    seed: { type: 'string' },
    train: { type: 'string' },
    val: { type: 'string' },
    test: { type: 'string' },
    unlabeled: { type: 'string' },
    tile: { type: 'string' },
    mags: { type: 'string' },
    classes: { type: 'string' },
    mpp: { type: 'string' },
    'arch-fidelity': { type: 'string' },
    'nuclear-strength': { type: 'string' },
    variation: { type: 'string' },
    slides: { type: 'string' },
    workers: { type: 'string' },
    overwrite: { type: 'boolean' },
  });
  if (!values.out) throw new UsageError(cmd, '--out DIR is required');
  const classes = values.classes ?? 'luad';
  if (!isClassSetName(classes)) throw new UsageError(cmd, `--classes must be luad or cd, got '${classes}'`);
  const whole = { integer: true, min: 0 };
  const opts = {
    out: values.out,
    seed: numberFlag(cmd, 'seed', values.seed, 0, { integer: true, min: 0, max: 0xffffffff }),
    train: numberFlag(cmd, 'train', values.train, 100, whole),
    val: numberFlag(cmd, 'val', values.val, 20, whole),
    test: numberFlag(cmd, 'test', values.test, 20, whole),
    unlabeled: numberFlag(cmd, 'unlabeled', values.unlabeled, 0, whole),
    tile: numberFlag(cmd, 'tile', values.tile, 256, { integer: true, min: 1 }),
    mags: (values.mags ?? DEFAULT_MAGS.join(','))
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    classes,
    micronsPerPixel: values.mpp === undefined ? undefined : numberFlag(cmd, 'mpp', values.mpp, 1, { min: 1e-3 }),
    knobs: {
      architectureFidelity: numberFlag(cmd, 'arch-fidelity', values['arch-fidelity'], DEFAULT_KNOBS.architectureFidelity, {
        min: 0,
        max: 1,
      }),
      nuclearStrength: numberFlag(cmd, 'nuclear-strength', values['nuclear-strength'], DEFAULT_KNOBS.nuclearStrength, { min: 0 }),
      variation: numberFlag(cmd, 'variation', values.variation, DEFAULT_KNOBS.variation, { min: 0 }),
    },
    slides: numberFlag(cmd, 'slides', values.slides, 12, { integer: true, min: 1 }),
    workers: numberFlag(cmd, 'workers', values.workers, availableParallelism(), whole),
    overwrite: values.overwrite ?? false,
  };
  const bar = progress({ label: 'synth', total: 0, unit: 'tiles' });
  let result;
  try {
    result = await synthesize({
      ...opts,
      onProgress: (done, total) => {
        bar.setTotal(total);
        bar.update(done);
      },
    });
  } finally {
    // Ends the bar's line, so an error prints below it.
    bar.done();
  }
  const m = result.manifest;
  console.log(
    `wrote ${result.tiles} tiles (train ${m.counts.train}, val ${m.counts.val}, test ${m.counts.test}, unlabeled ${m.counts.unlabeled}) x ${m.magnifications.length} magnifications to ${opts.out}`,
  );
  console.log(`classes (${m.classSet}): ${m.classes.join(', ')}`);
  for (const mag of m.magnifications) {
    const s = m.stats[mag.name];
    const f = (v: number[]) => v.map((x) => x.toFixed(4)).join(', ');
    console.log(
      `  ${mag.name.padEnd(7)} ${String(mag.tile).padStart(4)} px  ${mag.micronsPerPixel} um/px  train mean [${f(s.mean)}] std [${f(s.std)}]`,
    );
  }
  console.log(
    `${(result.tiles / result.seconds).toFixed(1)} tiles/s = ${Math.round(result.tilesPerMinute)} tiles/min (each with its ${m.magnifications.length}-level pyramid; ${opts.workers} worker(s), tile ${m.tile} px)`,
  );
  // CPU time (all threads, worker start-up included) does not depend on what else runs on the machine.
  const cpuPerTile = result.cpuSeconds / result.tiles;
  const threads = Math.max(1, Math.min(opts.workers, availableParallelism()));
  console.log(
    `CPU ${(cpuPerTile * 1000).toFixed(1)} ms per tile: about ${Math.round((60 * threads) / cpuPerTile)} tiles/min when ${threads} core(s) are free`,
  );
}
