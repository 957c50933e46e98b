/** Yielding to the host event loop from a run loop, without the 1 ms clamp of setTimeout(0) where possible. */

/**
 * Resolve on the next turn of the host's event loop, after pending I/O callbacks: `setImmediate` under
 * Node; in browsers (no such global) a MessageChannel message, a task that is not clamped as nested
 * `setTimeout(0)` is (to 4 ms after five levels, HTML §8.6 timers), which would idle a run loop that
 * yields after every batch; `setTimeout(0)` where neither exists.
 */
export function yieldToHost(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  if (typeof g.setImmediate === "function") {
    const si = g.setImmediate;
    return new Promise((resolve) => {
      si(resolve);
    });
  }
  const g2 = globalThis as unknown as { MessageChannel?: new () => MessageChannelLike };
  if (typeof g2.MessageChannel === "function") {
    channel ??= new g2.MessageChannel();
    const ch = channel;
    return new Promise((resolve) => {
      waiting.push(resolve);
      if (waiting.length === 1) {
        ch.port1.onmessage = () => {
          for (const r of waiting.splice(0)) r();
        };
        ch.port2.postMessage(0);
      }
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

interface MessageChannelLike {
  port1: { onmessage: ((e: unknown) => void) | null };
  port2: { postMessage(v: unknown): void };
}
let channel: MessageChannelLike | undefined;
const waiting: Array<() => void> = [];
