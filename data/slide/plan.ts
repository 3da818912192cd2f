/**
 * Where a slide's tiles are: the tile grid at the target resolution, the pyramid level each is
 * read from, the tissue mask and which tiles it keeps, and the windows (groups of neighbouring
 * tiles decoded together). Used by the tiler (tile.ts) and by slide inference.
 *
 * Geometry: a tile is `tile` pixels at `targetMpp` microns per pixel, so size0 = tile *
 * targetMpp / mpp0 level-0 pixels. Tile (i, j) covers level-0 [i * size0, (i + 1) * size0) x
 * [j * size0, ...); in the chosen level that is [i * tile * f, (i + 1) * tile * f) with f the
 * level pixels per target pixel. Only whole tiles inside the slide (and inside the level, whose
 * size may round down) are cut.
 */
import { readThumbnail, levelFor, levelMpp, type Slide, type SlideLevel } from './slide.ts';
import { tissueFraction, tissueMask, type TissueMask } from './tissue.ts';
import type { RgbImage } from '../image.ts';

export interface PlannedTile {
  /** `<slide>_x<x0>_y<y0>`: the same at every magnification. */
  name: string;
  /** Grid position and level-0 corner and side. */
  i: number;
  j: number;
  x0: number;
  y0: number;
  size0: number;
  tissue: number;
}

export interface SlidePlan {
  slide: Slide;
  level: SlideLevel;
  /** Level pixels per target pixel (1 when the level is at the target resolution). */
  factor: number;
  size0: number;
  columns: number;
  rows: number;
  mask: TissueMask;
  thumbnail: RgbImage;
  /** Tiles with at least minTissue tissue, row-major. */
  tiles: PlannedTile[];
}

/** Longest side of the mask thumbnail; at most MASK_MICRONS per mask pixel below that. */
const MASK_MAX_SIDE = 2048;
const MASK_MICRONS = 4;

export async function planSlide(slide: Slide, targetMpp: number, tile: number, minTissue: number): Promise<SlidePlan> {
  const level = levelFor(slide, targetMpp);
  const factor = snap(targetMpp / levelMpp(slide, level));
  const size0 = snap((tile * targetMpp) / slide.mpp0);
  const span = tile * factor;
  const columns = Math.max(0, Math.min(Math.floor(slide.width0 / size0 + 1e-9), Math.floor(level.width / span + 1e-9)));
  const rows = Math.max(0, Math.min(Math.floor(slide.height0 / size0 + 1e-9), Math.floor(level.height / span + 1e-9)));
  const side = Math.min(MASK_MAX_SIDE, Math.ceil((Math.max(slide.width0, slide.height0) * slide.mpp0) / MASK_MICRONS));
  const { image: thumbnail, scaleX, scaleY } = await readThumbnail(slide, side);
  const mask = tissueMask(thumbnail, scaleX, scaleY);
  const tiles: PlannedTile[] = [];
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < columns; i++) {
      const x0 = snap(i * size0),
        y0 = snap(j * size0);
      const tissue = tissueFraction(mask, x0, y0, size0);
      if (tissue < minTissue) continue;
      tiles.push({ name: `${slide.id}_x${Math.round(x0)}_y${Math.round(y0)}`, i, j, x0, y0, size0, tissue });
    }
  }
  return { slide, level, factor, size0, columns, rows, mask, thumbnail, tiles };
}

/** Ratios of decimal resolutions (1.0 / 0.25) come out as 3.9999999999999996: snap those to the whole number. */
function snap(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - r) < 1e-9 * Math.max(1, Math.abs(v)) ? r : v;
}

/** Level pixels of a window of tiles, at most about this many on a side (the default of windowsOf). */
const WINDOW_LEVEL_PX = 1024;

export interface Window {
  x: number;
  y: number;
  width: number;
  height: number;
  tiles: { tile: PlannedTile; sx: number; sy: number }[];
}

/**
 * Group tiles into windows of about `width` x `height` level pixels (default 1024 x 1024), each
 * the bounding box of its tiles. Small windows let workers share a slide evenly and keep
 * progress moving; large ones spread the fixed cost of a libvips read (opening the file,
 * setting up the pipeline) over more pixels. At 256-pixel tiles read at factor 1, windows
 * that are multiples of 256 align with the TIFF tiles, so none is decoded twice.
 */
export function windowsOf(
  plan: SlidePlan,
  tiles: PlannedTile[],
  tile: number,
  width = WINDOW_LEVEL_PX,
  height = WINDOW_LEVEL_PX,
): Window[] {
  const span = tile * plan.factor;
  const kx = Math.max(1, Math.floor(width / span));
  const ky = Math.max(1, Math.floor(height / span));
  const groups = new Map<string, PlannedTile[]>();
  for (const t of tiles) {
    const key = `${Math.floor(t.j / ky)},${Math.floor(t.i / kx)}`;
    const g = groups.get(key);
    if (g) g.push(t);
    else groups.set(key, [t]);
  }
  const out: Window[] = [];
  for (const g of groups.values()) {
    const x = Math.floor(Math.min(...g.map((t) => t.i)) * span);
    const y = Math.floor(Math.min(...g.map((t) => t.j)) * span);
    const x1 = Math.min(plan.level.width, Math.ceil((Math.max(...g.map((t) => t.i)) + 1) * span));
    const y1 = Math.min(plan.level.height, Math.ceil((Math.max(...g.map((t) => t.j)) + 1) * span));
    out.push({ x, y, width: x1 - x, height: y1 - y, tiles: g.map((t) => ({ tile: t, sx: t.i * span - x, sy: t.j * span - y })) });
  }
  return out;
}
