/** Test-only: the one seeded pseudo-random generator, so fuzz tests in every layer and in tests/ replay exactly. */
import { TWO_POW_32 } from "./u64.js";

/** A deterministic 32-bit PRNG (mulberry32): each call returns the next unsigned 32-bit value. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The same generator scaled to [0, 1), for picking sizes, offsets and choices. */
export function prngUnit(seed: number): () => number {
  const next = prng(seed);
  return () => next() / TWO_POW_32;
}
