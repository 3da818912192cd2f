/** rbd tile: whole-slide images to the project's tile layout (see data/slide/tile.ts). */
import { availableParallelism } from 'node:os';
import { DEFAULT_TILE_MAGS, tileSlides } from '../../data/slide/tile.ts';
import { PNG_COMPRESSIONS, type PngCompression } from '../../data/slide/png.ts';
import { parseFlags, numberFlag, UsageError } from '../flags.ts';
import { progress } from '../../util/progress.ts';

export const help = `usage: rbd tile SLIDE... --out DIR [flags]

Cuts whole-slide images (Aperio SVS with JPEG tiles, tiled pyramidal TIFF, OME-TIFF) into tiles
at a target resolution, in the ImageFolder pyramid the other commands read:
  DIR/<mag>/<split>/<class>/NAME.png   labelled slides      DIR/<mag>/unlabeled/NAME.png   the rest
  DIR/thumbnails/<slide>.png            tissue mask preview (glass tinted blue, kept tiles in green)
  DIR/manifest.json                     slides[] {id, file, mpp0, width0, height0, levels, split, label, ...}
                                        tiles[] {name, slide, split, class, x0, y0, size0, tissue}
NAME = <slide>_x<x0>_y<y0> (top-left corner in level-0 pixels), the same at every magnification.
Slides are read region by region (libvips via sharp), never decoded whole: memory stays flat.
Pixels come from the pyramid level nearest above the target resolution, area-downsampled
exactly; every lower magnification is the exact area downsample of the first.
Tissue: Otsu's threshold on HSV saturation of a thumbnail (at most 2048 px, about 4 um/px).
A killed run leaves no half-written tile; run the same command again to finish it.

  --out DIR              output folder (new, or an earlier rbd tile output made with the same flags)
  --mags LIST            magnifications, the tile magnification first (default ${DEFAULT_TILE_MAGS.join(',')})
  --tile PX              tile side at the first magnification (default 256; a multiple of the
                         factor down to the last)
  --mpp M                microns per pixel at the first magnification (default 10 / mag: 1.0 at 10x)
  --labels CSV           columns slide,label and optionally split (train|val|test) and patient;
                         slide = file name with or without extension; unlisted slides are unlabeled
  --split-seed S         seed of the patient shuffle for splits the CSV leaves empty (default 0;
                         70/15/15 by patient, or by slide without patients, per class)
  --min-tissue F         least tissue fraction of a kept tile (default 0.5)
  --mpp-override M       level-0 microns per pixel for slides that do not record it
  --skip-bad             a bad slide (truncated, corrupt, unsupported compression, not a slide,
                         unreadable, no resolution) becomes a counted warning; the rest are tiled
  --workers N            worker threads (default: the number of cores, ${availableParallelism()} here); 0 = main thread
  --png-compression C    lossless PNG modes: none (default; stored deflate: the fastest to write and
                         to read, files the size of the pixels), fast (Up filter, Huffman-only
                         deflate: smaller, several times slower to encode), small (Up filter,
                         deflate level 6). 'rbd bench tile' prints time and size of each.
`;

export function pngCompressionFlag(cmd: string, value: string | undefined): PngCompression {
  if (value === undefined) return 'none';
  if (!(PNG_COMPRESSIONS as readonly string[]).includes(value))
    throw new UsageError(cmd, `--png-compression must be one of ${PNG_COMPRESSIONS.join(', ')}, got '${value}'`);
  return value as PngCompression;
}

export async function run(argv: string[]) {
  const cmd = 'tile';
  const { values, positionals } = parseFlags(
    cmd,
    argv,
    {
      out: { type: 'string' },
      mags: { type: 'string' },
      tile: { type: 'string' },
      mpp: { type: 'string' },
      labels: { type: 'string' },
      'split-seed': { type: 'string' },
      'min-tissue': { type: 'string' },
      'mpp-override': { type: 'string' },
      'skip-bad': { type: 'boolean' },
      workers: { type: 'string' },
      'png-compression': { type: 'string' },
    },
    true,
  );
  if (!values.out) throw new UsageError(cmd, '--out DIR is required');
  if (positionals.length === 0) throw new UsageError(cmd, 'name at least one slide (e.g. rbd tile slides/*.svs --out tiles)');
  const bar = progress({ label: 'tile', total: 0, unit: 'tiles' });
  let result;
  try {
    result = await tileSlides({
      slides: positionals,
      out: values.out,
      mags: values.mags
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      tile: numberFlag(cmd, 'tile', values.tile, 256, { integer: true, min: 1 }),
      mpp: values.mpp === undefined ? undefined : numberFlag(cmd, 'mpp', values.mpp, 1, { min: 1e-4 }),
      labels: values.labels,
      seed: numberFlag(cmd, 'split-seed', values['split-seed'], 0, { integer: true, min: 0, max: 0xffffffff }),
      minTissue: numberFlag(cmd, 'min-tissue', values['min-tissue'], 0.5, { min: 0, max: 1 }),
      mppOverride:
        values['mpp-override'] === undefined ? undefined : numberFlag(cmd, 'mpp-override', values['mpp-override'], 0.25, { min: 1e-4 }),
      skipBad: values['skip-bad'] ?? false,
      workers: numberFlag(cmd, 'workers', values.workers, availableParallelism(), { integer: true, min: 0 }),
      compression: pngCompressionFlag(cmd, values['png-compression']),
      onProgress: (done, total) => {
        bar.setTotal(total);
        bar.update(done);
      },
      onWarning: (w) => bar.note(`warning: ${w}`),
    });
  } finally {
    bar.done();
  }
  const m = result.manifest;
  console.log(
    `${m.slides.length} slide(s) -> ${m.tiles.length} tiles (train ${m.counts.train}, val ${m.counts.val}, test ${m.counts.test}, unlabeled ${m.counts.unlabeled}) x ${m.magnifications.length} magnifications in ${values.out}`,
  );
  if (result.resumed) console.log(`${result.resumed} tiles were already complete from an earlier run; ${result.written} written now`);
  for (const s of m.slides) {
    console.log(
      `  ${s.id}: ${s.width0}x${s.height0} at ${s.mpp0} um/px (${s.mppSource}), ${s.levels.length} level(s), read level ${s.readLevel} x${Number(s.readFactor.toFixed(4))}, ${s.tiles} tiles, split ${s.split}${s.label ? `, class ${s.label}` : ''}`,
    );
  }
  const secs = result.seconds;
  console.log(
    `${(result.written / secs).toFixed(1)} tiles/s, ${(result.tilePixels / 1e6 / secs).toFixed(1)} MP/s of the level read under the tiles (${(result.decodedPixels / 1e6).toFixed(1)} MP decoded) over ${secs.toFixed(1)} s`,
  );
  if (m.skipped.length) {
    console.log(`${m.skipped.length} slide(s) skipped (--skip-bad): ${m.skipped.map((s) => `${s.file} (${s.kind})`).join(', ')}`);
    return 3;
  }
  return 0;
}
