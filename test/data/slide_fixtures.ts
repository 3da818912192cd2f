/**
 * Slides for the tests, built from the synthetic renderer at 40x (0.25 micron per pixel):
 * a rendered tissue region on the left of the slide, glass (bright, a little noise) on the
 * right. Written by sharp (tiled pyramidal TIFF, JPEG or deflate, with resolution tags) or by
 * the test TIFF writer (Aperio-style SVS with its ImageDescription and separate level pages,
 * OME-TIFF with SubIFDs, a slide without resolution, a JPEG 2000-coded page).
 */
import sharp from 'sharp';
import { Rng } from '../../engine/random.ts';
import { areaDownsample, type RgbImage } from '../../data/image.ts';
import { CLASS_SETS } from '../../data/synth/classes.ts';
import { DEFAULT_KNOBS, drawSlideStain, renderTile } from '../../data/synth/render.ts';
import { writeTiff, type PageSpec } from './tiff_writer.ts';

export const MPP40 = 0.25;

/** width x height at 0.25 um/px: the left `tissueWidth` columns rendered tissue, the rest glass. */
export function renderSlide(width: number, height: number, tissueWidth: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  const tissue = renderTile({
    width: tissueWidth,
    height,
    micronsPerPixel: MPP40,
    classes: CLASS_SETS.luad,
    classIndex: 4, // solid: tissue almost everywhere
    knobs: DEFAULT_KNOBS,
    stain: drawSlideStain(rng),
    seed,
  });
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (x < tissueWidth) data.set(tissue.data.subarray((y * tissueWidth + x) * 3, (y * tissueWidth + x) * 3 + 3), o);
      else for (let c = 0; c < 3; c++) data[o + c] = 238 + Math.floor(rng.next() * 8);
    }
  }
  return { data, width, height };
}

const raw = (img: RgbImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });

/** Tiled pyramidal TIFF by libvips: resolution tags in pixels per centimetre. */
export async function writeSharpPyramid(path: string, img: RgbImage, compression: 'jpeg' | 'deflate', pyramid = true): Promise<void> {
  const pxPerMm = 1000 / MPP40;
  await raw(img)
    .tiff({
      tile: true,
      tileWidth: 256,
      tileHeight: 256,
      pyramid,
      compression,
      quality: 90,
      xres: pxPerMm,
      yres: pxPerMm,
      resolutionUnit: 'cm',
    })
    .toFile(path);
}

/**
 * Aperio-style SVS: level 0, a stripped thumbnail, level at 4x and 16x (exact block means of
 * level 0), a label image; MPP in the first ImageDescription. Lossless (deflate) tiles.
 */
export function writeAperio(
  path: string,
  img: RgbImage,
  options: { mpp?: number | null; compression?: number; opaqueTile?: Uint8Array } = {},
): void {
  const mpp = options.mpp === undefined ? MPP40 : options.mpp;
  const desc = `Aperio Image Library v12.0.15 \r\n${img.width}x${img.height} [0,0 ${img.width}x${img.height}] (256x256) J2K/YUV16 Q=70|AppMag = 40|StripeWidth = 2040|ScanScope ID = SS1234${mpp === null ? '' : `|MPP = ${mpp}`}|Filename = test`;
  const compression = options.compression ?? 8;
  const level = (f: number): PageSpec => ({
    image: areaDownsample(img, f),
    tile: 256,
    compression,
    opaqueTile: options.opaqueTile,
    description: `Aperio Image Library v12.0.15 \r\n${img.width}x${img.height} -> ${Math.floor(img.width / f)}x${Math.floor(img.height / f)}`,
  });
  const thumb = areaDownsample(img, 32);
  const label: RgbImage = { data: new Uint8Array(60 * 40 * 3).fill(200), width: 60, height: 40 };
  writeTiff(path, [
    { image: img, tile: 256, compression, opaqueTile: options.opaqueTile, description: desc },
    { image: thumb, tile: 0, compression: 1, description: 'Aperio thumbnail' },
    level(4),
    level(16),
    { image: label, tile: 0, compression: 1, description: 'label 60x40', reduced: true },
  ]);
}

/** OME-TIFF: OME-XML with PhysicalSizeX in the first page, levels 2x and 4x in its SubIFDs. */
export function writeOme(path: string, img: RgbImage): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint8" SizeX="${img.width}" SizeY="${img.height}" SizeC="3" SizeZ="1" SizeT="1" PhysicalSizeX="${MPP40}" PhysicalSizeXUnit="\u00b5m" PhysicalSizeY="${MPP40}" PhysicalSizeYUnit="\u00b5m"><Channel ID="Channel:0:0" SamplesPerPixel="3"/></Pixels></Image></OME>`;
  const sub = (f: number): PageSpec => ({ image: areaDownsample(img, f), tile: 256, compression: 8, reduced: true });
  writeTiff(path, [{ image: img, tile: 256, compression: 8, description: xml, subIfds: [sub(2), sub(4)] }]);
}

/**
 * Aperio-style SVS with JPEG tiles, as scanners write them: compression 7, each 256-pixel tile a
 * baseline JPEG (YCbCr 4:2:0, quality 90) made by sharp, levels 1, 4 and 16 (levels from exact
 * block means of level 0 before their own JPEG coding), MPP in the ImageDescription. Returns
 * the 4x level as sharp decodes its JPEG tiles one by one.
 */
export async function writeAperioJpeg(path: string, img: RgbImage): Promise<RgbImage> {
  const jpegTiles = async (level: RgbImage): Promise<Uint8Array[]> => {
    const out: Uint8Array[] = [];
    for (let ty = 0; ty < Math.ceil(level.height / 256); ty++) {
      for (let tx = 0; tx < Math.ceil(level.width / 256); tx++) {
        const tile = new Uint8Array(256 * 256 * 3);
        for (let y = 0; y < 256 && ty * 256 + y < level.height; y++) {
          const w = Math.min(256, level.width - tx * 256);
          tile.set(
            level.data.subarray(((ty * 256 + y) * level.width + tx * 256) * 3, ((ty * 256 + y) * level.width + tx * 256 + w) * 3),
            y * 256 * 3,
          );
        }
        out.push(
          await sharp(tile, { raw: { width: 256, height: 256, channels: 3 } })
            .jpeg({ quality: 90, chromaSubsampling: '4:2:0' })
            .toBuffer(),
        );
      }
    }
    return out;
  };
  const desc = `Aperio Image Library v12.0.15 \r\n${img.width}x${img.height} [0,0 ${img.width}x${img.height}] (256x256) JPEG/RGB Q=90|AppMag = 40|MPP = ${MPP40}`;
  const pages: PageSpec[] = [];
  for (const f of [1, 4, 16]) {
    const level = f === 1 ? img : areaDownsample(img, f);
    pages.push({
      image: level,
      tile: 256,
      compression: 7,
      photometric: 6,
      tiles: await jpegTiles(level),
      description: f === 1 ? desc : `Aperio level ${f}`,
    });
    if (f === 1) pages.push({ image: areaDownsample(img, 32), tile: 0, compression: 1, description: 'Aperio thumbnail' });
  }
  writeTiff(path, pages);
  // The 4x level as sharp (libjpeg) decodes its tiles: what a reader should return for it.
  const level = pages[2];
  const decoded = new Uint8Array(level.image.width * level.image.height * 3);
  const across = Math.ceil(level.image.width / 256);
  for (let i = 0; i < level.tiles!.length; i++) {
    const tx = i % across,
      ty = Math.floor(i / across);
    const d = await sharp(level.tiles![i]).raw().toBuffer();
    for (let y = 0; y < 256 && ty * 256 + y < level.image.height; y++) {
      const w = Math.min(256, level.image.width - tx * 256);
      decoded.set(d.subarray(y * 256 * 3, (y * 256 + w) * 3), ((ty * 256 + y) * level.image.width + tx * 256) * 3);
    }
  }
  return { data: decoded, width: level.image.width, height: level.image.height };
}
