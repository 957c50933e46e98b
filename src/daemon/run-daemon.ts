/** `tvisor daemon`: open the state directory, load the VMs, serve the API on the Unix socket and each --listen endpoint. */
import { chmod, mkdir, stat, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { UserError } from "../base/errors.js";
import { buildApiServer } from "./api-server.js";
import { Daemon } from "./daemon.js";
import { loadOrCreateToken } from "./token.js";

/** The socket every client command uses, inside the state directory. */
export const SOCKET_NAME = "tvisor.sock";

export interface RunDaemonOptions {
  stateDir: string;
  /** Extra endpoints: "unix:PATH" or "tcp:HOST:PORT". */
  listen: string[];
  version: string;
  /** "pacing": never use cgroups for CPU weight and cap (hosts where the daemon should not touch them). */
  cpuControl?: "auto" | "pacing";
  /** Where log lines go (default stdout). */
  log?: (line: string) => void;
}

type Endpoint = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

export function parseListen(spec: string): Endpoint {
  if (spec.startsWith("unix:")) {
    const path = spec.slice(5);
    if (!path) throw new UserError(`--listen: "${spec}" has no socket path`);
    return { kind: "unix", path };
  }
  const m = /^tcp:(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(spec);
  if (m) {
    const port = Number(m[2]);
    if (port > 65535) throw new UserError(`--listen: port ${port} is out of range`);
    return { kind: "tcp", host: m[1].replace(/^\[|\]$/g, ""), port };
  }
  throw new UserError(`--listen: expected unix:PATH or tcp:HOST:PORT, got "${spec}"`);
}

/** Is a daemon answering on this socket? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Clear a stale socket file (a daemon that was killed), refusing when another daemon still serves it. */
async function claimSocket(path: string): Promise<void> {
  try {
    await stat(path);
  } catch {
    return;
  }
  if (await answers(path)) throw new UserError(`a daemon is already running on ${path}`);
  await unlink(path);
}

async function listenUnix(app: FastifyInstance, path: string): Promise<void> {
  await claimSocket(path);
  // Create the socket 0600 from the start (umask), so there is no window where others may connect.
  const old = process.umask(0o177);
  try {
    await app.listen({ path });
  } finally {
    process.umask(old);
  }
  await chmod(path, 0o600);
}

/** Run until SIGINT/SIGTERM; resolves with the exit status. */
export async function runDaemon(opts: RunDaemonOptions): Promise<number> {
  const out = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = (msg: string) => out(`${new Date().toISOString()} ${msg}`);
  const endpoints = opts.listen.map(parseListen);
  await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
  const { token, created } = await loadOrCreateToken(opts.stateDir);
  if (created) log(`created the API token in ${join(opts.stateDir, "token")}`);

  const daemon = new Daemon({
    stateDir: opts.stateDir,
    vmEntry: fileURLToPath(new URL("../bin/tvisor-vm.js", import.meta.url)),
    log,
    ...(opts.cpuControl === "pacing"
      ? { cpuHost: { mechanism: "pacing", why: "--cpu-control pacing" } }
      : {}),
  });
  const servers: FastifyInstance[] = [];
  const socketPaths: string[] = [];
  const closeAll = async () => {
    await Promise.all(servers.map((s) => s.close().catch(() => {})));
    for (const p of socketPaths) await unlink(p).catch(() => {});
  };
  try {
    const mainSocket = join(opts.stateDir, SOCKET_NAME);
    const app = await buildApiServer(daemon, { token: null, version: opts.version });
    servers.push(app);
    await listenUnix(app, mainSocket);
    socketPaths.push(mainSocket);
    log(`listening on unix:${mainSocket}`);
    for (const ep of endpoints) {
      const s = await buildApiServer(daemon, {
        token: ep.kind === "tcp" ? token : null,
        version: opts.version,
      });
      servers.push(s);
      if (ep.kind === "unix") {
        await listenUnix(s, ep.path);
        socketPaths.push(ep.path);
        log(`listening on unix:${ep.path}`);
      } else {
        await s.listen({ host: ep.host, port: ep.port });
        const addr = s.server.address();
        const port = typeof addr === "object" && addr ? addr.port : ep.port;
        log(`listening on tcp:${ep.host}:${port} (bearer token required)`);
      }
    }
    await daemon.init();
  } catch (e) {
    await closeAll();
    const code = (e as { code?: string }).code;
    if (code === "EADDRINUSE") throw new UserError(`--listen: address in use (${(e as Error).message})`);
    if (code === "EACCES" || code === "EPERM") throw new UserError(`cannot listen: ${(e as Error).message}`);
    throw e;
  }
  log(`ready: state dir ${opts.stateDir}`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: stopping every VM and shutting down`);
      await closeAll();
      await daemon.shutdown();
      log("stopped");
      resolve(0);
    };
    process.once("SIGINT", () => void stop("SIGINT"));
    process.once("SIGTERM", () => void stop("SIGTERM"));
  });
}
