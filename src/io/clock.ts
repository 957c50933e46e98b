/** The host clock contract, so core layers never touch node:* timers directly. */

export interface Clock {
  /** Monotonic time in nanoseconds (as a JS number; exact for centuries). */
  nowNs(): number;
  /** Wall-clock time in nanoseconds since the Unix epoch, for the RTC. */
  wallNs(): number;
}
