/**
 * A seeded pseudo-random number generator for fuzz tests, so a failing case can be replayed from its
 * seed.
 *
 * @module
 */

/** Mulberry32: numbers uniform in [0, 1), the same sequence for the same `seed`. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
