/**
 * A whole-slide image: its pyramid levels and resolution from the TIFF structure (tiff.ts), its
 * pixels region by region through sharp (libvips + libtiff).
 *
 * libvips opens one directory of the file (a page, or an OME SubIFD) and, asked for a region
 * with `extract`, decodes only the TIFF tiles that region touches: memory follows the region,
 * not the slide. The pixel cache of sharp is switched off (`sharp.cache(false)`) by the tiler,
 * so nothing accumulates between regions.
 *
 * Formats:
 *   - Aperio SVS: level 0 first, then a stripped thumbnail, more tiled levels, label and macro
 *     images. Microns per pixel from `MPP = 0.2520` in the first ImageDescription.
 *   - Pyramidal TIFF as libvips writes it: one page per level (halving); resolution from
 *     XResolution with ResolutionUnit centimetre or inch.
 *   - OME-TIFF: OME-XML in the first ImageDescription (PhysicalSizeX, PhysicalSizeXUnit), levels
 *     in SubIFDs of the first page (or following pages).
 * Levels are the tiled directories with the aspect ratio of level 0, largest first; thumbnail,
 * label and macro images are recognised by their different aspect ratio or by being stripped.
 */
import sharp, { type Sharp } from 'sharp';
import { basename, extname } from 'node:path';
import { SlideError } from './errors.ts';
import { COMPRESSION_NAMES, DECODABLE_COMPRESSIONS, readTiff, type TiffDirectory } from './tiff.ts';
import type { RgbImage } from '../image.ts';

export interface SlideLevel {
  /** Where libvips finds it: a page of the main chain, or a SubIFD of page 0 (-1 when not). */
  page: number;
  subIfd: number;
  width: number;
  height: number;
  /** Level-0 pixels per pixel of this level (whole when the pyramid was built by whole-number shrinks). */
  downsample: number;
  tileWidth: number;
  tileHeight: number;
  compression: string;
}

export interface Slide {
  /** File name without extension (the id in the manifest and the labels CSV). */
  id: string;
  file: string;
  format: 'aperio' | 'ome' | 'tiff';
  /** Microns per pixel at level 0, and where the value came from. */
  mpp0: number;
  mppSource: 'aperio' | 'ome' | 'resolution-tags' | 'override';
  width0: number;
  height0: number;
  levels: SlideLevel[];
}

export interface OpenSlideOptions {
  /** Microns per pixel at level 0 for slides whose file does not say (used only then). */
  mppOverride?: number;
  /** Use mppOverride even when the file has a resolution. */
  forceMpp?: boolean;
}

/** File name without its extension (`a/b/S1.ome.tiff` -> `S1`). */
export function slideId(file: string): string {
  let name = basename(file);
  if (/\.ome\.tiff?$/i.test(name)) return name.replace(/\.ome\.tiff?$/i, '');
  const ext = extname(name);
  return ext ? name.slice(0, -ext.length) : name;
}

/** Read a slide's structure and resolution (no pixels). Problems are SlideErrors naming the file. */
export function openSlide(file: string, options: OpenSlideOptions = {}): Slide {
  const tiff = readTiff(file);
  const first = tiff.pages[0];
  const description = first.description;
  const format: Slide['format'] = /^Aperio/i.test(description) ? 'aperio' : /<OME[\s>]/.test(description) ? 'ome' : 'tiff';

  // Candidate levels: page 0, its SubIFDs, later pages; keep those shaped like level 0.
  const candidates: TiffDirectory[] = [first, ...first.subIfds, ...tiff.pages.slice(1)];
  const aspect = first.width / first.height;
  const levelDirs = candidates.filter((d, i) => {
    if (i === 0) return true;
    if (!d.tileWidth) return false; // Aperio thumbnail, label and macro are stripped
    if (/\b(label|macro)\b/i.test(d.description)) return false;
    if (d.width >= first.width) return false;
    // A level is level 0 shrunk by d: its sides are floor or round of width0/d, so the aspect ratio agrees to about one pixel.
    return Math.abs(d.width / d.height - aspect) <= aspect * (1 / d.height + 1 / d.width) * 2 + 1e-6;
  });
  levelDirs.sort((a, b) => b.width - a.width);
  const levels: SlideLevel[] = [];
  for (const d of levelDirs) {
    if (levels.length && levels[levels.length - 1].width === d.width) continue;
    if (d.samplesPerPixel < 3 && d.photometric !== 1 && d.photometric !== 0) continue;
    levels.push({
      page: d.subIfd >= 0 ? d.page : d.page,
      subIfd: d.subIfd,
      width: d.width,
      height: d.height,
      downsample: levelDownsample(first.width, d.width),
      tileWidth: d.tileWidth,
      tileHeight: d.tileHeight,
      compression: COMPRESSION_NAMES[d.compression] ?? `code ${d.compression}`,
    });
    checkCompression(file, d);
  }

  const fromFile = resolutionFromFile(first, format);
  let mpp0: number, mppSource: Slide['mppSource'];
  if (options.mppOverride !== undefined && (options.forceMpp || !fromFile)) {
    mpp0 = options.mppOverride;
    mppSource = 'override';
  } else if (fromFile) {
    ({ mpp: mpp0, source: mppSource } = fromFile);
  } else {
    throw new SlideError(
      file,
      'resolution',
      `${file} does not record its microns per pixel (no Aperio MPP, OME PhysicalSizeX or TIFF resolution in centimetres or inches); pass --mpp-override M with the scanner's value (e.g. 0.25 at 40x)`,
    );
  }
  return { id: slideId(file), file, format, mpp0, mppSource, width0: first.width, height0: first.height, levels };
}

/**
 * Level-0 pixels per level pixel. Pyramids are built by whole-number shrinks whose sizes round
 * (20001 -> 10000 is a factor of 2, not 2.0001): a ratio within 1% of a whole number is that
 * whole number.
 */
function levelDownsample(width0: number, width: number): number {
  const ratio = width0 / width;
  const whole = Math.round(ratio);
  return Math.abs(ratio - whole) <= 0.01 * whole ? whole : ratio;
}

function checkCompression(file: string, d: TiffDirectory): void {
  if (DECODABLE_COMPRESSIONS.has(d.compression)) return;
  const name = COMPRESSION_NAMES[d.compression] ?? `TIFF compression code ${d.compression}`;
  const jp2k = [33003, 33004, 33005, 34712].includes(d.compression);
  const remedy = jp2k
    ? "the libvips inside sharp has no JPEG 2000 decoder; convert the slide to JPEG tiles first, e.g. 'vips tiffsave IN.svs OUT.tif --tile --pyramid --compression jpeg --Q 90' with a libvips built with OpenJPEG/OpenSlide, or QuPath/bfconvert ('bfconvert -compression JPEG -pyramid-resolutions 4 IN.svs OUT.ome.tiff')"
    : "convert the slide to JPEG or deflate tiles first, e.g. 'vips tiffsave IN OUT.tif --tile --pyramid --compression jpeg'";
  throw new SlideError(
    file,
    'compression',
    `${file}: page ${d.page} is compressed with ${name}, which this build cannot decode; ${remedy}`,
  );
}

function resolutionFromFile(d: TiffDirectory, format: Slide['format']): { mpp: number; source: Slide['mppSource'] } | null {
  if (format === 'aperio') {
    const m = /\|\s*MPP\s*=\s*([0-9.eE+-]+)/.exec(d.description);
    const v = m ? Number(m[1]) : NaN;
    if (v > 0) return { mpp: v, source: 'aperio' };
  }
  if (format === 'ome') {
    const pixels = /<(?:\w+:)?Pixels\b[^>]*>/.exec(d.description)?.[0] ?? '';
    const size = Number(/PhysicalSizeX="([^"]+)"/.exec(pixels)?.[1]);
    const unit = /PhysicalSizeXUnit="([^"]+)"/.exec(pixels)?.[1] ?? '\u00b5m';
    const scale: Record<string, number> = { '\u00b5m': 1, '\u03bcm': 1, um: 1, nm: 1e-3, mm: 1e3, cm: 1e4, m: 1e6 };
    if (size > 0 && scale[unit] !== undefined) return { mpp: size * scale[unit], source: 'ome' };
  }
  // ResolutionUnit 3 = centimetre, 2 = inch; 1 (none) says nothing about physical size.
  if (d.xResolution > 0 && (d.resolutionUnit === 2 || d.resolutionUnit === 3)) {
    const micronsPerUnit = d.resolutionUnit === 3 ? 1e4 : 25400;
    return { mpp: micronsPerUnit / d.xResolution, source: 'resolution-tags' };
  }
  return null;
}

/** Microns per pixel of a level. */
export function levelMpp(slide: Slide, level: SlideLevel): number {
  return slide.mpp0 * level.downsample;
}

/**
 * The level to read for a target resolution: the coarsest level still at least as fine as the
 * target (the nearest above it), so the downsample from it is the smallest. A slide whose
 * level 0 is coarser than the target is refused: it would have to be upsampled.
 */
export function levelFor(slide: Slide, targetMpp: number): SlideLevel {
  const fine = slide.levels.filter((l) => levelMpp(slide, l) <= targetMpp * (1 + 1e-6));
  if (fine.length === 0) {
    throw new SlideError(
      slide.file,
      'too-coarse',
      `${slide.file} is scanned at ${slide.mpp0} microns per pixel (${mpp0Mag(slide.mpp0)}), coarser than the ${targetMpp} microns per pixel asked for; tiling it would need upsampling. Ask for a lower magnification (--mags) or, if the file's resolution is wrong, give --mpp-override`,
    );
  }
  return fine[fine.length - 1];
}

function mpp0Mag(mpp: number): string {
  return `about ${Number((10 / mpp).toPrecision(3))}x`;
}

/** sharp for one level of a slide: no pixel limit (slides are large), errors fail the read. */
function levelInput(slide: Slide, level: SlideLevel): Sharp {
  const tiff = level.subIfd >= 0 ? { subifd: level.subIfd } : undefined;
  return sharp(slide.file, { page: level.page, limitInputPixels: false, failOn: 'error', ...(tiff ? { tiff } : {}) });
}

/**
 * Decode the region [x, x + width) x [y, y + height) of a level into 8-bit RGB. Only the TIFF
 * tiles the region touches are decoded. The region must lie inside the level.
 */
export async function readRegion(slide: Slide, level: SlideLevel, x: number, y: number, width: number, height: number): Promise<RgbImage> {
  try {
    const { data, info } = await levelInput(slide, level)
      .extract({ left: x, top: y, width, height })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== width || info.height !== height)
      throw new Error(`decoded ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x3`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width, height };
  } catch (e) {
    throw new SlideError(
      slide.file,
      'corrupt',
      `cannot decode ${slide.file} (level ${level.width}x${level.height}, region ${x},${y} ${width}x${height}): ${(e as Error).message}; the file may be damaged: copy it again from its source`,
    );
  }
}

/**
 * The whole slide shrunk to fit `maxSide` pixels on its longer side, from the smallest level at
 * least that large (libvips streams it through a box-filter shrink, so memory stays small).
 * Returns the image and the level-0 pixels per thumbnail pixel on each axis.
 */
export async function readThumbnail(slide: Slide, maxSide: number): Promise<{ image: RgbImage; scaleX: number; scaleY: number }> {
  const long = Math.max(slide.width0, slide.height0);
  const target = Math.max(1, Math.min(maxSide, long));
  const width = Math.max(1, Math.round((slide.width0 * target) / long));
  const height = Math.max(1, Math.round((slide.height0 * target) / long));
  const sources = slide.levels.filter((l) => l.width >= width && l.height >= height);
  const level = sources[sources.length - 1] ?? slide.levels[0];
  try {
    const { data, info } = await levelInput(slide, level)
      .resize({ width, height, fit: 'fill', kernel: 'linear' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return {
      image: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height },
      scaleX: slide.width0 / info.width,
      scaleY: slide.height0 / info.height,
    };
  } catch (e) {
    throw new SlideError(
      slide.file,
      'corrupt',
      `cannot decode ${slide.file} (level ${level.width}x${level.height} for the thumbnail): ${(e as Error).message}; the file may be damaged: copy it again from its source`,
    );
  }
}
