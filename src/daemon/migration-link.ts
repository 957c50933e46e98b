/**
 * The source VM process's connection to the destination daemon: a WebSocket to its TCP API
 * (`/v1/migrations/incoming`, `Authorization: Bearer` with the destination's token). Binary messages go
 * out; JSON text replies come back. Flow control: send() waits while more than WINDOW bytes are queued
 * in the socket, which is when the guest gets the CPU.
 */
import WebSocket from "ws";
import { errorMessage } from "../base/errors.js";
import { MigrationError } from "../vmm/migration/errors.js";
import type { MigrationLink } from "../vmm/migration/link.js";
import { MAX_MESSAGE_BYTES, parseReply, type Reply } from "../vmm/migration/protocol.js";

/** Bytes queued in the socket before send() waits. */
const WINDOW = 4 << 20;
/** How long to wait for the WebSocket handshake (a black-holed address must not hang the migration). */
const CONNECT_TIMEOUT_MS = 30_000;

export function migrationUrl(to: string): string {
  return `ws://${to}/v1/migrations/incoming`;
}

/** Open the link; rejects with a MigrationError saying why (refused, 401, not a tvisor daemon). */
export function connectMigrationLink(url: string, token: string): Promise<MigrationLink> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
    });
    let opened = false;
    let failure: MigrationError | null = null;
    let bytesSent = 0;
    const replies: Reply[] = [];
    const waiters: Array<{ resolve(r: Reply): void; reject(e: Error): void }> = [];
    const fail = (e: MigrationError) => {
      failure ??= e;
      for (const w of waiters.splice(0)) w.reject(failure);
      if (!opened) reject(failure);
    };
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        if (body.length < 1000) body += d.toString();
      });
      res.on("end", () => {
        let why = `HTTP ${res.statusCode}`;
        try {
          why = (JSON.parse(body) as { error?: string }).error ?? why;
        } catch {}
        fail(new MigrationError(`destination ${url} refused: ${why}`));
        ws.terminate();
      });
    });
    ws.on("error", (e) => fail(new MigrationError(`connection to the destination: ${errorMessage(e)}`)));
    ws.on("close", (code, reason) =>
      fail(
        new MigrationError(
          `the destination closed the connection${reason.length ? `: ${reason.toString()}` : ` (code ${code})`}`,
        ),
      ),
    );
    ws.on("message", (data, isBinary) => {
      if (isBinary) return fail(new MigrationError("destination: unexpected binary reply"));
      let r: Reply;
      try {
        r = parseReply(data.toString());
      } catch (e) {
        return fail(e as MigrationError);
      }
      const w = waiters.shift();
      if (w) w.resolve(r);
      else replies.push(r);
    });
    ws.on("open", () => {
      opened = true;
      resolve({
        get bytesSent() {
          return bytesSent;
        },
        async send(msg) {
          if (failure) throw failure;
          ws.send(msg, { binary: true });
          bytesSent += msg.length;
          while (ws.bufferedAmount > WINDOW) {
            await new Promise((r) => setTimeout(r, 1));
            if (failure) throw failure;
          }
        },
        reply() {
          const r = replies.shift();
          if (r) return Promise.resolve(r);
          if (failure) return Promise.reject(failure);
          return new Promise((res, rej) => waiters.push({ resolve: res, reject: rej }));
        },
        close() {
          if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
        },
      });
    });
  });
}
