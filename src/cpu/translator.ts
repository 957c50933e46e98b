/**
 * The hook through which a binary translator (src/jit) runs a hart's code. The CPU never imports the
 * translator; a board plugs one in, and without one the interpreter runs everything.
 */

export interface Translator {
  /**
   * Run guest code from `hart.pc` with `n` steps already counted in this batch, up to the absolute step
   * limit `limit`; returns the new count. It must return where the interpreter's `interpret()` would
   * (on a trap or an instruction that sets `breakLoop`, or at the limit), so interrupts are taken at the
   * same points, and it must retire exactly the instructions the interpreter would.
   */
  execute(n: number, limit: number): number;
  /** Forget every translation (restore, reset): translations are never state. */
  reset(): void;
}

/** Size of `Hart.entryHeat` (a power of two): counters of branch targets, hashed by `(pc >>> 1) & mask`. */
export const ENTRY_HEAT_SIZE = 1 << 15;
export const ENTRY_HEAT_MASK = ENTRY_HEAT_SIZE - 1;
