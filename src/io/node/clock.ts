/** The host Clock: monotonic time from the high-resolution timer, wall time from the system clock. */
import { performance } from "node:perf_hooks";
import type { Clock } from "../clock.js";

/**
 * `performance.now()` is monotonic and cheap (no BigInt allocation like hrtime.bigint), with
 * sub-microsecond resolution, which is finer than the 100 ns tick of the 10 MHz timebase needs in practice.
 */
export const hostClock: Clock = {
  nowNs: () => performance.now() * 1e6,
  wallNs: () => Date.now() * 1e6,
};
