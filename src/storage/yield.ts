/**
 * Cooperative yielding for long storage loops. Node's positioned reads finish synchronously here (see
 * node/node-host.ts), so an `await` on them resumes in a microtask and never lets timers, console input
 * or a stop request in. Loops whose length a file controls call `step()`; every STEPS_PER_YIELD steps it
 * waits for a macrotask. The counter also meters work, so tests can bound it without timing anything.
 */

const STEPS_PER_YIELD = 1 << 14;

type Sched = (fn: () => void) => unknown;
const schedule: Sched = (globalThis as { setImmediate?: Sched }).setImmediate ?? ((fn) => setTimeout(fn, 0));

export class WorkMeter {
  /** Units of work done so far (clusters scanned, table entries decoded, ...). */
  steps = 0;
  private sinceYield = 0;

  /** Count n units; resolves after a macrotask turn now and then. */
  step(n = 1): Promise<void> | undefined {
    this.steps += n;
    this.sinceYield += n;
    if (this.sinceYield < STEPS_PER_YIELD) return undefined;
    this.sinceYield = 0;
    return new Promise<void>((resolve) => schedule(resolve));
  }
}
