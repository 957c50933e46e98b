/** Yielding to the host event loop from a run loop, without the 1 ms clamp of setTimeout(0) where possible. */

/**
 * Resolve on the next turn of the host's event loop, after pending I/O callbacks: `setImmediate` under
 * Node, `setTimeout(0)` elsewhere (browsers, where the global does not exist).
 */
export function yieldToHost(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  if (typeof g.setImmediate === "function") {
    const si = g.setImmediate;
    return new Promise((resolve) => {
      si(resolve);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
