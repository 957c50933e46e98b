/** Test harness: a real `tvisor daemon` subprocess in a temp state dir, reached over its Unix socket, TCP and WebSockets. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
// Boot waits are hang guards only (see guest-session.ts); the name is kept for the daemon tests.
import { HANG_GUARD_MS as BOOT_TIMEOUT_MS, cleanConsoleOutput, TVISOR_CLI } from "../boot/guest-session.js";

export { HANG_GUARD_MS as BOOT_TIMEOUT_MS, missingImages } from "../boot/guest-session.js";

/**
 * Polls `probe` every `everyMs` until it gives a value (not `undefined`) and returns it. A hang guard, not a
 * timing check: it gives up only after as many attempts as add up to BOOT_TIMEOUT_MS of sleeping (the
 * probes' own time comes on top, so a slow host only waits longer), and then fails with `why()`.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  why: () => string,
  everyMs = 200,
): Promise<T> {
  for (let left = Math.ceil(BOOT_TIMEOUT_MS / everyMs); left > 0; left--) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`hang guard: ${why()}`);
}

/** Polls until `ok` holds (a hang guard only, as `pollUntil`); `what` names what never happened. */
export function until(what: string, ok: () => boolean | Promise<boolean>, everyMs = 200): Promise<true> {
  return pollUntil(
    async () => ((await ok()) ? true : undefined),
    () => `never: ${what}`,
    everyMs,
  );
}

export interface HttpResult {
  status: number;
  body: unknown;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP request over the Unix socket (`socketPath`) or TCP (`port`). */
export function http(
  target: { socketPath: string } | { port: number },
  method: string,
  path: string,
  opts: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const payload =
    opts.rawBody !== undefined
      ? opts.rawBody
      : opts.body === undefined
        ? undefined
        : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (payload !== undefined) {
    headers["content-type"] ??= "application/json";
    headers["content-length"] = String(Buffer.byteLength(payload));
  }
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  return new Promise((resolve, reject) => {
    const where =
      "socketPath" in target ? { socketPath: target.socketPath } : { host: "127.0.0.1", port: target.port };
    const req = request({ ...where, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {}
        resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers });
      });
    });
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** A daemon subprocess; `log` collects its output lines. */
export class TestDaemon {
  readonly stateDir: string;
  child: ChildProcess | null = null;
  log = "";
  tcpPort = 0;
  private owned: boolean;

  constructor(stateDir?: string) {
    this.owned = stateDir === undefined;
    this.stateDir = stateDir ?? mkdtempSync(join(tmpdir(), "tvisor-daemon-"));
  }

  get socketPath(): string {
    return join(this.stateDir, "tvisor.sock");
  }

  get sock(): { socketPath: string } {
    return { socketPath: this.socketPath };
  }

  async start(extra: string[] = ["--listen", "tcp:127.0.0.1:0"]): Promise<void> {
    this.log = "";
    const child = spawn(process.execPath, [TVISOR_CLI, "daemon", "--state-dir", this.stateDir, ...extra], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const onData = (d: Buffer) => {
      this.log += d.toString();
      if (process.env.TVISOR_DAEMON_ECHO) process.stderr.write(d);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    await this.waitLog(/ready: state dir/, BOOT_TIMEOUT_MS);
    const m = /listening on tcp:127\.0\.0\.1:(\d+)/.exec(this.log);
    if (m) this.tcpPort = Number(m[1]);
  }

  /** Wait until the log matches (hang guard only). */
  async waitLog(re: RegExp, timeoutMs = BOOT_TIMEOUT_MS): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.log);
      if (m) return m;
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined)
        throw new Error(`daemon exited (${this.child.exitCode}) before ${re}; log:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; log:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  call(method: string, path: string, body?: unknown): Promise<HttpResult> {
    return http(this.sock, method, path, { body });
  }

  /** Kill the daemon (signal) and wait for it to exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill(signal);
    });
    this.child = null;
  }

  async dispose(): Promise<void> {
    await this.stop("SIGTERM");
    if (this.owned) rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** A console viewer over the daemon's WebSocket; it types commands and reads answers like a user. */
export class ConsoleClient {
  output = "";
  closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];
  private seq = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (d: Buffer) => {
      this.output += d.toString("latin1");
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) =>
      ws.on("close", (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const w of this.waiters.splice(0)) w();
      }),
    );
  }

  static open(socketPath: string, vm: string): Promise<ConsoleClient> {
    const ws = new WebSocket(`ws+unix://${socketPath}:/v1/vms/${vm}/console`);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new ConsoleClient(ws)));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`console: HTTP ${res.statusCode}`)));
    });
  }

  type(text: string): void {
    this.ws.send(Buffer.from(text));
  }

  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.output.slice(from));
      if (m) return m;
      if (this.ws.readyState === WebSocket.CLOSED)
        throw new Error(`console closed while waiting for ${re}; output:\n${this.output.slice(-1500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; output:\n${this.output.slice(-1500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Wait for the shell after boot (the guest's init prints "tvisor: guest ready"). */
  async waitForShell(): Promise<void> {
    await this.waitFor(/tvisor: guest ready[\s\S]*# /, BOOT_TIMEOUT_MS);
  }

  /** Type a command at the prompt and return what it printed (markers built by the shell, as GuestSession.run). */
  async run(cmd: string, timeoutMs = BOOT_TIMEOUT_MS): Promise<string> {
    const n = ++this.seq;
    await this.waitFor(/# (\x1b\[6n)?$/, timeoutMs, Math.max(0, this.output.length - 64));
    const from = this.output.length;
    this.type(`echo __S""TART${n}__; ${cmd}; echo __E""ND${n}__\n`);
    const m = await this.waitFor(
      new RegExp(`\\n__START${n}__\\r?\\n([\\s\\S]*?)\\n?__END${n}__\\r?\\n`),
      timeoutMs,
      from,
    );
    return cleanConsoleOutput(m[1]);
  }

  close(): void {
    this.ws.close();
  }
}
