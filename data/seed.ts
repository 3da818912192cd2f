/**
 * Seeds derived from several integers (run seed, split, class, index, epoch, ...), so that each
 * tile, sample or epoch gets its own random stream whatever order the work is done in.
 */

/** Mix integers into one 32-bit seed (a murmur3-style finalizer over each part). */
export function hashSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
