/** The CLI's client of the daemon: HTTP/1.1 over the Unix socket in the state directory. */
import { request } from "node:http";
import { UserError } from "../base/errors.js";
import { socketOf, stateDirOf } from "./state-dir.js";

/** Bound on a response body the CLI reads (a VM list of thousands of VMs is still far below). */
const MAX_RESPONSE = 16 * 1024 * 1024;

export class DaemonClient {
  readonly socket: string;
  constructor(readonly stateDir: string) {
    this.socket = socketOf(stateDir);
  }

  static fromFlag(stateDir: string | undefined): DaemonClient {
    return new DaemonClient(stateDirOf(stateDir));
  }

  /** "no daemon" in one line, with how to start one for this state directory. */
  noDaemon(): UserError {
    return new UserError(
      `no daemon answers on ${this.socket}; start one with: tvisor daemon --state-dir ${this.stateDir}`,
    );
  }

  /** Send a request; a 4xx/5xx becomes a UserError with the daemon's one-line message. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, text } = await this.raw(method, path, body);
    let parsed: unknown;
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new UserError(`the daemon sent a response that is not JSON (HTTP ${status})`);
      }
    }
    if (status >= 400) {
      const msg = (parsed as { error?: unknown } | undefined)?.error;
      throw new UserError(typeof msg === "string" ? msg : `HTTP ${status}`);
    }
    return parsed as T;
  }

  raw(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          method,
          path,
          headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE) {
              req.destroy(new UserError("the daemon's response is too large"));
              return;
            }
            chunks.push(c);
          });
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT" || e.code === "ECONNREFUSED" || e.code === "ENOTSOCK")
          reject(this.noDaemon());
        else if (e.code === "EACCES")
          reject(
            new UserError(
              `no permission to use ${this.socket} (it is mode 0600, owned by the daemon's user)`,
            ),
          );
        else reject(e instanceof UserError ? e : new UserError(`daemon connection failed: ${e.message}`));
      });
      if (payload) req.write(payload);
      req.end();
    });
  }
}
