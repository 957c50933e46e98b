/** A named virtual switch: a NetHub whose ports are stream connections on a Unix socket, plus in-process ports. */
/*
 * Usage:
 *   const sw = await SwitchServer.open({ name: "lab", path: switchSocketPath(dir, "lab") });
 *   sw.port()   // an in-process port: the daemon's IPC relay for a VM
 *   await sw.addNatUplink({ hostfwd: [], log })   // one passt on the switch (nat-uplink.ts)
 *   sw.close()
 *
 * Any process joins by connecting to the socket and speaking QEMU's stream framing (a 32-bit
 * big-endian length before each frame): tvisor VMs (`--nic switch=NAME`), QEMU guests
 * (`-netdev stream,addr.type=unix,addr.path=...`), or anything else that speaks it. This is
 * VirtualBox's internal network and VMware's host-only switch: it outlives the VMs on it.
 * Each connection is a port of the learning switch (NetHub: bounded MAC table). A switch cannot slow
 * one sender for one slow receiver (a flooded frame goes to all), so each port's socket has a bounded
 * backlog (MAX_PORT_BACKLOG) and frames beyond it are dropped and counted, as a switch's output queue
 * does; a bad length closes that connection only. At most MAX_SWITCH_PORTS connections are served.
 */
import { mkdirSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { errorMessage, UserError } from "../../base/errors.js";
import type { NetBackend } from "../../io/net-backend.js";
import { NetHub } from "../hub.js";
import { encodeStreamFrame, StreamFrameDecoder, StreamFramingError } from "../stream-framing.js";
import { NatUplink, type NatUplinkOptions } from "./nat-uplink.js";
import { takeOverStalePath } from "./stream-socket.js";

/** Connections one switch serves; more are refused (each costs a socket and a backlog). */
export const MAX_SWITCH_PORTS = 256;
/** Bytes waiting toward one port beyond which frames to it are dropped. */
export const MAX_PORT_BACKLOG = 1 << 20;
/** Switch names become file names: no slashes, no leading dot (the API and CLI check the same). */
export const SWITCH_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** sockaddr_un.sun_path holds 108 bytes with the NUL (unix(7)). */
const MAX_UNIX_PATH = 107;

/** The socket of switch `name` under `dir` (the state directory's `switches/`). */
export function switchSocketPath(dir: string, name: string): string {
  if (!SWITCH_NAME.test(name))
    throw new UserError(
      `switch name ${JSON.stringify(name)}: must be letters, digits, '_', '.', '-' (at most 64)`,
    );
  const path = join(dir, `${name}.sock`);
  if (Buffer.byteLength(path) > MAX_UNIX_PATH)
    throw new UserError(
      `switch socket ${path} is longer than a Unix socket path may be (${MAX_UNIX_PATH} bytes)`,
    );
  return path;
}

export interface SwitchCounters {
  /** Connections accepted, refused (too many), and closed for a bad length prefix. */
  connects: number;
  refused: number;
  malformed: number;
  /** Frames dropped toward a port whose backlog was full. */
  backlogDrops: number;
}

export class SwitchServer {
  readonly counters: SwitchCounters = { connects: 0, refused: 0, malformed: 0, backlogDrops: 0 };
  private readonly conns = new Set<Socket>();
  private closed = false;
  /** The switch's NAT uplink, if it has one; it ends with the switch. */
  uplink: NatUplink | null = null;

  private constructor(
    readonly name: string,
    readonly path: string,
    private readonly server: Server,
    /** The switch itself; a daemon passes the hub its VMs' ports are already on. */
    readonly hub: NetHub,
  ) {}

  /** Listen on `path` (its directory is created 0700: the socket's permissions are the access control). */
  static async open(opts: { name: string; path: string; hub?: NetHub }): Promise<SwitchServer> {
    const { path } = opts;
    const dir = join(path, "..");
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new UserError(`switch ${opts.name}: cannot create ${dir}: ${errorMessage(e)}`);
    }
    await takeOverStalePath(path).catch((e: unknown) => {
      throw new UserError(`switch ${opts.name}: ${errorMessage(e)}`);
    });
    const server = createServer();
    const sw = new SwitchServer(opts.name, path, server, opts.hub ?? new NetHub());
    server.on("connection", (s) => sw.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) =>
        reject(new UserError(`switch ${opts.name}: cannot listen on ${path}: ${errorMessage(e)}`)),
      );
      server.listen(path, resolve);
    });
    server.on("error", () => {});
    return sw;
  }

  /** A port in this process (the daemon's relay to a VM process, a NAT uplink). */
  port(): NetBackend {
    return this.hub.port();
  }

  /** Give the switch a NAT uplink (one passt for all its VMs; see nat-uplink.ts for what it serves). */
  async addNatUplink(opts: NatUplinkOptions): Promise<NatUplink> {
    if (this.uplink) throw new UserError(`switch ${this.name} already has a NAT uplink`);
    const uplink = await NatUplink.attach(this.hub, opts);
    if (this.closed) uplink.close();
    else this.uplink = uplink;
    return uplink;
  }

  /** Ports attached: connections and in-process ones. */
  get size(): number {
    return this.hub.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.conns) s.destroy();
    this.uplink?.close();
    // net.Server.close removes the socket file it created.
    this.server.close();
  }

  private accept(s: Socket): void {
    if (this.closed || this.conns.size >= MAX_SWITCH_PORTS) {
      this.counters.refused++;
      s.destroy();
      return;
    }
    this.counters.connects++;
    this.conns.add(s);
    const port = this.hub.port();
    const decoder = new StreamFrameDecoder();
    port.onReceive((frame) => {
      if (s.writableLength > MAX_PORT_BACKLOG) {
        this.counters.backlogDrops++;
        return;
      }
      s.write(encodeStreamFrame(frame));
    });
    s.on("data", (chunk: Buffer) => {
      try {
        decoder.push(chunk, (frame) => port.send(frame));
      } catch (e) {
        if (!(e instanceof StreamFramingError)) throw e;
        this.counters.malformed++;
        s.destroy();
      }
    });
    s.on("error", () => {});
    s.on("close", () => {
      this.conns.delete(s);
      port.close();
    });
  }
}
