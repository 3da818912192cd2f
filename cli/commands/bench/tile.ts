/** rbd bench tile: flags for bench/tile.ts (the benchmark takes typed options; flags are parsed here). */
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchTile, formatTileBench } from '../../../bench/tile.ts';
import { DEFAULT_TILE_MAGS } from '../../../data/slide/tile.ts';
import { pngCompressionFlag } from '../tile.ts';
import { parseFlags, numberFlag } from '../../flags.ts';
import { progress, status, type Progress } from '../../../util/progress.ts';
import { writeJson } from '../../../util/files.ts';

export const summary = 'whole-slide tiling: tiles/s, decoded MP/s and peak memory on a generated slide, vs raw JPEG decode';

export const help = `rbd bench tile [--size PX] [--tile PX] [--mags LIST] [--workers N] [--dir DIR] [--json FILE]
  Generates (once, kept in DIR) a SIZE x SIZE slide at 0.25 um/px as a libvips JPEG pyramid, tiles
  it with rbd tile's code, and decodes a JPEG of the same level and quality through sharp in the
  same run. Reports tiles/s, decoded MP/s, tiling/decode ratio (target >= 50%), peak RSS
  (target < 1 GiB).
  --size PX      slide side (default 20000)        --tile PX    tile at the first mag (default 256)
  --mags LIST    default ${DEFAULT_TILE_MAGS.join(',')}       --workers N  default ${availableParallelism()}
  --dir DIR      default ${join(tmpdir(), 'rbd-bench-tile')}     --json FILE  also write the figures as JSON
  --decode-seconds S   least time decoding for the raw rate (default 5)
  --png-compression none|fast|small   as rbd tile (default none)
`;

export async function run(argv: string[]) {
  const cmd = 'bench tile';
  const { values } = parseFlags(cmd, argv, {
    size: { type: 'string' },
    tile: { type: 'string' },
    mags: { type: 'string' },
    workers: { type: 'string' },
    dir: { type: 'string' },
    json: { type: 'string' },
    'decode-seconds': { type: 'string' },
    'png-compression': { type: 'string' },
  });
  // The bar starts with the tile phase (its first progress call), so its tiles/s leave out generating the slide, the raw decode and planning.
  let bar: Progress | null = null;
  let r;
  try {
    r = await benchTile({
      size: numberFlag(cmd, 'size', values.size, 20000, { integer: true, min: 1024 }),
      tile: numberFlag(cmd, 'tile', values.tile, 256, { integer: true, min: 8 }),
      mags: (values.mags ?? DEFAULT_TILE_MAGS.join(','))
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      workers: numberFlag(cmd, 'workers', values.workers, availableParallelism(), { integer: true, min: 0 }),
      dir: values.dir ?? join(tmpdir(), 'rbd-bench-tile'),
      compression: pngCompressionFlag(cmd, values['png-compression']),
      decodeSeconds: numberFlag(cmd, 'decode-seconds', values['decode-seconds'], 5, { min: 0.1 }),
      onStatus: (line) => (bar ? bar.note(line) : status(line)),
      onProgress: (done, total) => {
        if (!bar) {
          status('');
          bar = progress({ label: 'tile', total, unit: 'tiles' });
        }
        bar.setTotal(total);
        bar.update(done);
        if (done >= total) bar.done();
      },
    });
  } finally {
    status('');
    (bar as Progress | null)?.done();
  }
  console.log(formatTileBench(r));
  if (values.json) writeJson(values.json, r);
}
