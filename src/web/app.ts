/** What every view gets: the API client, navigation, error handling, and a signal that ends with the view. */
import { type ApiClient, AuthError } from "./api-client.js";

export interface App {
  api: ApiClient;
  /** Aborted when the user leaves the view: timers, sockets and streams stop on it. */
  signal: AbortSignal;
  go(hash: string): void;
  /** An AuthError shows the login again (and returns null); anything else becomes its one-line message. */
  fail(e: unknown): string | null;
}

export function isAuthError(e: unknown): e is AuthError {
  return e instanceof AuthError;
}

/** Run `fn` now and then every `ms` after it finishes, until `signal` aborts. */
export function every(ms: number, signal: AbortSignal, fn: () => Promise<void>): void {
  const tick = async () => {
    if (signal.aborted) return;
    try {
      await fn();
    } finally {
      if (!signal.aborted) setTimeout(tick, ms);
    }
  };
  void tick();
}
