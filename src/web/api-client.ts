/** The browser's client of the daemon's /v1 API: typed from the same TypeBox schemas the daemon validates with. */

import { BEARER_PROTOCOL_PREFIX, CONSOLE_PROTOCOL } from "../api/console-protocol.js";
import type { ErrorBody, VmEvent, VmInfo, VmList, VmStats } from "../api/messages.js";
import type { VmDefinition } from "../api/vm-spec.js";

/** The token was missing or wrong (HTTP 401): the page shows the login again. */
export class AuthError extends Error {}

/** Any other refusal: the daemon's one-line message and, for a bad request, the field at fault. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export class ApiClient {
  constructor(
    readonly token: string,
    readonly base: string = "",
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) throw new AuthError("the token was not accepted");
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new ApiCallError(res.status, `the daemon sent something that is not JSON (HTTP ${res.status})`);
    }
    if (!res.ok) {
      const e = parsed as Partial<ErrorBody> | undefined;
      throw new ApiCallError(res.status, e?.error ?? `HTTP ${res.status}`, e?.field);
    }
    return parsed as T;
  }

  listVms(): Promise<VmList> {
    return this.call("GET", "/v1/vms");
  }
  inspect(name: string): Promise<VmInfo> {
    return this.call("GET", `/v1/vms/${encodeURIComponent(name)}`);
  }
  stats(name: string): Promise<VmStats> {
    return this.call("GET", `/v1/vms/${encodeURIComponent(name)}/stats`);
  }
  define(def: VmDefinition): Promise<VmInfo> {
    return this.call("POST", "/v1/vms", def);
  }
  remove(name: string): Promise<void> {
    return this.call("DELETE", `/v1/vms/${encodeURIComponent(name)}`);
  }
  /** Call an operation by its path template ("/v1/vms/{name}/pause"). */
  operation<T>(method: string, template: string, name: string, body?: unknown): Promise<T> {
    return this.call(method.toUpperCase(), template.replace("{name}", encodeURIComponent(name)), body);
  }

  /** The VM's console WebSocket (binary frames both ways). */
  console(name: string): WebSocket {
    const url = new URL(`${this.base}/v1/vms/${encodeURIComponent(name)}/console`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url, [CONSOLE_PROTOCOL, BEARER_PROTOCOL_PREFIX + this.token]);
    ws.binaryType = "arraybuffer";
    return ws;
  }

  /**
   * Follow GET /v1/events until `signal` aborts. EventSource cannot send a bearer header, so this reads
   * the text/event-stream (HTML §9.2) through fetch and takes each `data:` line.
   */
  async events(onEvent: (e: VmEvent) => void, signal: AbortSignal): Promise<void> {
    const res = await fetch(`${this.base}/v1/events`, {
      headers: { authorization: `Bearer ${this.token}` },
      signal,
    });
    if (res.status === 401) throw new AuthError("the token was not accepted");
    if (!res.ok || !res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of block.split("\n"))
          if (line.startsWith("data: ")) onEvent(JSON.parse(line.slice(6)) as VmEvent);
      }
    }
  }
}
