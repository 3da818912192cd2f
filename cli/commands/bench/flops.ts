/** rbd bench flops: the cost table per magnification (bench/flops.ts), no GPU. */
import { flopsRows, formatFlopsRows, DEFAULT_MAGS, DEFAULT_TILE } from '../../../bench/flops.ts';
import { benchMeta } from '../../../bench/meta.ts';
import { PRESETS } from '../../../models/arch.ts';
import { writeJson } from '../../../util/files.ts';
import { parseFlags, numberFlag, magsFlag, archFlag } from '../../flags.ts';

export const summary = 'FLOPs, parameters and activation memory per magnification, from the layer shapes';

export const help = `usage: rbd bench flops [--mags LIST] [--tile N] [--arch NAME] [--json FILE]

Counts, from the real layer shapes (models/flops.ts), what one tile costs at each magnification:
input pixels, forward GFLOPs, distillation training-step GFLOPs (teacher forward at the top
magnification without gradients + student forward and backward at this one), parameters, the
student's training activation memory, and the cost relative to the top magnification.
A tile is N pixels square at the top magnification and N/f at a magnification f times lower.
No GPU is used. FLOPs: 2 per multiply-add (conventions in models/flops.ts).

  --mags LIST    magnifications, comma-separated (default ${DEFAULT_MAGS}); the highest is the teacher's
  --tile N       tile side in pixels at the top magnification (default ${DEFAULT_TILE})
  --arch NAME    architecture preset: ${Object.keys(PRESETS).join(' | ')} (default rbd)
  --json FILE    also write the table as JSON (with adapter: null, versions, commit, command line, date)
`;

export async function run(argv: string[]): Promise<number> {
  const cmd = 'bench flops';
  const { values } = parseFlags(cmd, argv, {
    mags: { type: 'string' },
    tile: { type: 'string' },
    arch: { type: 'string' },
    json: { type: 'string' },
  });
  const tile = numberFlag(cmd, 'tile', values.tile, DEFAULT_TILE, { min: 1, integer: true });
  const inputs = magsFlag(cmd, values.mags, tile);
  const { name, arch } = archFlag(cmd, values.arch);
  const rows = flopsRows(arch, inputs);
  console.log(
    `architecture ${name}: planes ${arch.planes.join(',')} layers ${arch.layers.join(',')}, ${arch.numClasses} classes; tile ${tile}px at ${inputs[0].mag}; per tile (batch 1)`,
  );
  console.log(formatFlopsRows(rows));
  console.log(
    'FLOPs: 2 per multiply-add; train step = teacher forward at the top magnification + student forward + backward (loss ops and optimizer update not counted).',
  );
  if (values.json) {
    writeJson(values.json, { ...benchMeta(null, cmd, {}), arch: { preset: name, ...arch }, tile, results: rows });
    console.log(`wrote ${values.json}`);
  }
  return 0;
}
