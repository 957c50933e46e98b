/**
 * How a browser authenticates the console WebSocket. A page cannot set an Authorization header on a
 * WebSocket (the WHATWG WebSockets constructor takes only a URL and subprotocols), so it offers two
 * subprotocols (RFC 6455 §4.1, Sec-WebSocket-Protocol): `tvisor.console`, which the daemon selects, and
 * `tvisor.bearer.<token>`, which carries the token and is never echoed back.
 */
export const CONSOLE_PROTOCOL = "tvisor.console";
export const BEARER_PROTOCOL_PREFIX = "tvisor.bearer.";

/** The token in a Sec-WebSocket-Protocol header value, or null. */
export function bearerFromProtocols(header: string | undefined): string | null {
  if (!header) return null;
  for (const p of header.split(",")) {
    const t = p.trim();
    if (t.startsWith(BEARER_PROTOCOL_PREFIX)) return t.slice(BEARER_PROTOCOL_PREFIX.length);
  }
  return null;
}
