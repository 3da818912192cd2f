/**
 * Magnifications: folder names like `10x`, `2.5x`, `0.625x`, their scale, and the integer
 * factor between two of them. At 10x a pixel is about 1 micron (see shared method notes);
 * halving the magnification doubles the microns per pixel and quarters the pixels.
 */
import { DataError } from './errors.ts';

/** A magnification: its folder name (`2.5x`) and value (2.5). */
export interface Mag {
  name: string;
  value: number;
}

const MAG_NAME = /^(\d+(?:\.\d+)?)x$/;

/** Parse a magnification name such as `10x` or `0.625x`; null when the name is not one. */
export function parseMag(name: string): Mag | null {
  const m = MAG_NAME.exec(name);
  if (!m) return null;
  const value = Number(m[1]);
  return value > 0 ? { name, value } : null;
}

/** Parse a magnification or throw a DataError naming `what` and the expected form. */
export function requireMag(name: string, what: string): Mag {
  const mag = parseMag(name);
  if (!mag) throw new DataError(`${what}: '${name}' is not a magnification; write it like 10x, 5x, 2.5x or 0.625x`);
  return mag;
}

/** Canonical name of a magnification value: 10 -> `10x`, 0.625 -> `0.625x`. */
export function magName(value: number): string {
  return `${Number(value.toPrecision(10))}x`;
}

/**
 * The whole-number factor by which `low` is smaller than `high` (10x -> 2.5x is 4). Area
 * downsampling needs a whole factor; anything else is an error naming both.
 */
export function downsampleFactor(high: Mag, low: Mag): number {
  const ratio = high.value / low.value;
  const factor = Math.round(ratio);
  if (factor < 1 || Math.abs(ratio - factor) > 1e-9) {
    throw new DataError(
      `magnification ${low.name} is not a whole-number reduction of ${high.name} (ratio ${ratio}); pick magnifications that divide ${high.name} by 1, 2, 4, 8, ...`,
    );
  }
  return factor;
}

/** Sort magnifications from the highest to the lowest. */
export function byDescendingMag(a: Mag, b: Mag): number {
  return b.value - a.value;
}
