/** NIC backend: user-mode NAT through a supervised passt process, frames over a Unix stream socket. */
/*
 * passt(1) (Debian package `passt`, the user-mode networking libvirt and podman use) turns the guest's
 * Ethernet frames into host TCP/UDP/ICMP sockets and answers ARP, DHCP, NDP and DNS itself. tvisor
 * starts one per NIC and talks to it as QEMU's `-netdev stream` does: each frame after a 32-bit
 * big-endian length.
 *
 * The socket is the child's fd 3, which Node (libuv) creates as an AF_UNIX socketpair, and passt gets it
 * with `--fd 3`. passt quits when that socket closes (`--fd` implies `--one-off`), so it cannot outlive
 * this process however this process ends: exit, crash or SIGKILL all close our end. `--foreground`
 * keeps it our child, so close() and the supervisor can signal it.
 *
 * The guest sees QEMU's user-mode layout (QEMU docs, "Network options", -netdev user): address
 * 10.0.2.15/24 by DHCP, gateway 10.0.2.2 (which passt maps to the host's loopback, so the guest reaches
 * host services there). Port forwards become `-t`/`-u` options. IPv4 only for now (see passtArgs).
 *
 * DNS, as Debian bookworm's passt (0.0~git20230309) does it (passt(1), -D, --dns-forward, NOTES): its
 * DHCP (option 6) hands the guest the resolvers themselves, read from /etc/resolv.conf or given with -D,
 * and the guest's queries leave through the NAT like any UDP. A loopback resolver in resolv.conf becomes
 * the gateway address, which passt maps to the host's 127.0.0.1, so a resolver on 127.0.0.1:53 is reached
 * that way; passt does not do that for -D, so hostDnsArgs does it. `--dns-forward 10.0.2.3` (QEMU's
 * address for its DNS) only takes effect without -D: this passt forwards it to the first resolv.conf
 * resolver and, with -D, to 0.0.0.0.
 *
 * Supervision: if passt dies, the NIC's carrier goes down (the guest sees the link drop), frames are
 * dropped and counted, and passt is started again with a growing back-off; the carrier comes back with it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../base/errors.js";
import type { NetBackend, NetPeer } from "../../io/net-backend.js";
import { formatHostForward, type HostForward } from "../net-address.js";
import { ReceiveGate } from "../receive-gate.js";
import { encodeStreamFrame } from "../stream-framing.js";

/** QEMU's user-mode network: guest address, prefix, gateway and DNS as the guest sees them. */
export const USER_NET = { guest: "10.0.2.15", prefix: 24, gateway: "10.0.2.2", dns: "10.0.2.3" } as const;

/** Largest frame accepted from passt: Ethernet + 802.1Q + 65535 (passt sends at most its MTU, 65520). */
const MAX_FRAME = 14 + 4 + 65535;
/** Frames held for a guest that cannot take them (flow control); beyond this they are dropped and counted. */
const MAX_HELD = 256;
/** Bytes queued towards passt beyond which frames from the guest are dropped (and counted). */
const MAX_UNSENT = 4 * 1024 * 1024;
/** Queued bytes at which send() tells the NIC to wait (it resumes on the socket's 'drain'). */
const CONGESTED_AT = 256 * 1024;
/** Stderr kept for messages. */
const STDERR_TAIL = 2048;
/** Restart back-off after passt dies: from 100 ms, doubling, at most 5 s. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;

export interface PasstOptions {
  hostfwd: HostForward[];
  /** The guest's MAC (for messages; passt learns it from the guest's frames). */
  mac?: Uint8Array;
  log(msg: string): void;
  /** The passt binary; default `$TVISOR_PASST` or `passt` on PATH. */
  binary?: string;
  /** Upstream DNS resolvers instead of /etc/resolv.conf; default `$TVISOR_PASST_DNS` (comma-separated). */
  dns?: string[];
}

/**
 * `-D` options for host-side resolvers. DHCP hands these addresses to the guest as they are, so a
 * loopback resolver must be given as the gateway, which passt maps to the host's 127.0.0.1 (passt(1),
 * --no-map-gw and NOTES); another loopback address cannot be reached from the guest in this passt.
 */
export function hostDnsArgs(dns: readonly string[]): string[] {
  const args: string[] = [];
  for (const d of dns) {
    if (d === "127.0.0.1") args.push("--dns", USER_NET.gateway);
    else if (d.startsWith("127."))
      throw new UserError(
        `DNS resolver ${d}: the guest reaches the host's loopback only at 127.0.0.1 (through the gateway ${USER_NET.gateway}); use a resolver listening there`,
      );
    else args.push("--dns", d);
  }
  return args;
}

/** passt's command line for these options (without the socket and pid-file options). */
export function passtArgs(opts: Pick<PasstOptions, "hostfwd" | "dns">): string[] {
  const args = [
    "--foreground",
    "--quiet",
    // IPv4 only for now: the Debian bookworm passt (2023-03-09) stops forwarding anything once the guest
    // sends IPv6 (its NDP/router solicitations) on a host without IPv6 routes; seen in tests/boot/nat.test.ts.
    "--ipv4-only",
    "--address",
    USER_NET.guest,
    "--netmask",
    String(USER_NET.prefix),
    "--gateway",
    USER_NET.gateway,
  ];
  if (opts.dns !== undefined && opts.dns.length > 0) args.push(...hostDnsArgs(opts.dns));
  else args.push("--dns-forward", USER_NET.dns);
  let udp = false;
  for (const f of opts.hostfwd) {
    if (f.guestAddr !== undefined && f.guestAddr !== USER_NET.guest)
      throw new UserError(
        `hostfwd ${formatHostForward(f)}: the guest address must be ${USER_NET.guest} (the one its DHCP gives) or left out`,
      );
    // passt: [ADDR/]PORT[:TARGET] (passt(1), -t/-u).
    const spec = `${f.hostAddr !== undefined ? `${f.hostAddr}/` : ""}${f.hostPort}:${f.guestPort}`;
    args.push(f.proto === "tcp" ? "--tcp-ports" : "--udp-ports", spec);
    if (f.proto === "udp") udp = true;
  }
  // Without UDP rules passt would also forward UDP on every forwarded TCP port; QEMU forwards only what is asked.
  if (!udp) args.push("--udp-ports", "none");
  return args;
}

/** Start passt and resolve once it has initialised (its port forwards are bound), or reject saying why not. */
export async function openPasst(opts: PasstOptions): Promise<NetBackend> {
  const b = new PasstBackend(opts);
  await b.start();
  return b;
}

class PasstBackend implements NetBackend {
  private child: ChildProcess | null = null;
  private socket: Socket | null = null;
  private handler: ((frame: Uint8Array) => void) | null = null;
  private peer: NetPeer | null = null;
  /** Frames for a guest that cannot take them wait here (copied: they are views of passt's stream). */
  private readonly gate = new ReceiveGate({
    max: MAX_HELD,
    nic: () => this.peer,
    deliver: (f) => this.handler?.(f),
    drop: () => {
      this.dropped++;
    },
    pause: () => {
      if (this.paused) return;
      this.paused = true;
      this.socket?.pause();
    },
    resume: () => {
      if (!this.paused) return;
      this.paused = false;
      this.socket?.resume();
    },
    copyHeld: true,
  });
  private paused = false;
  private congested = false;
  private closed = false;
  private up = false;
  private restartMs = RESTART_MIN_MS;
  private restartTimer: NodeJS.Timeout | null = null;
  private healthyTimer: NodeJS.Timeout | null = null;
  private readonly dir: string;
  private readonly binary: string;
  private readonly args: string[];
  /** Partial input from passt: bytes of the current length prefix or frame. */
  private inbuf: Buffer = Buffer.alloc(0);
  dropped = 0;
  /** How many times passt was started (1 + restarts). */
  starts = 0;

  constructor(private readonly opts: PasstOptions) {
    this.binary = opts.binary ?? process.env.TVISOR_PASST ?? "passt";
    const dns =
      opts.dns ??
      (process.env.TVISOR_PASST_DNS ? process.env.TVISOR_PASST_DNS.split(",").filter((s) => s !== "") : []);
    this.args = passtArgs({ hostfwd: opts.hostfwd, dns });
    this.dir = mkdtempSync(join(tmpdir(), "tvisor-passt-"));
  }

  get carrier(): boolean {
    return this.up;
  }

  /** The passt process id (tests kill it to check supervision). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    try {
      await this.spawnPasst();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** One passt process; resolves when its pid file appears (written once initialisation is done). */
  private spawnPasst(): Promise<void> {
    const pidFile = join(this.dir, `passt-${this.starts}.pid`);
    // Started as root, passt becomes `nobody` before it writes the pid file: make the file for it, writable
    // (the directory itself stays unlistable and unwritable to others).
    writeFileSync(pidFile, "", { mode: 0o600 });
    if (process.getuid?.() === 0) {
      chmodSync(this.dir, 0o711);
      chmodSync(pidFile, 0o666);
    }
    this.starts++;
    const child = spawn(this.binary, [...this.args, "--fd", "3", "--pid", pidFile], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    });
    this.child = child;
    let stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      stderr = (stderr + d).slice(-STDERR_TAIL);
    });
    const socket = child.stdio[3] as Socket;
    this.socket = socket;
    this.inbuf = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("drain", () => this.onDrain());
    socket.on("error", () => {}); // the exit handler reports and restarts
    const why = () => {
      const lines = stderr
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && !/syslog|Don't run as root/.test(l));
      return lines.length > 0 ? lines.slice(-2).join("; ") : "no message";
    };
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      let poll: NodeJS.Timeout | null = null;
      const settle = (e: Error | null) => {
        if (poll) clearTimeout(poll);
        poll = null;
        if (ready) return;
        ready = true;
        if (e) reject(e);
        else resolve();
      };
      child.once("error", (e: NodeJS.ErrnoException) => {
        settle(
          e.code === "ENOENT"
            ? new UserError(
                `user-mode networking needs passt, which is not installed (${this.binary}): apt-get install passt`,
              )
            : new UserError(`cannot start passt (${this.binary}): ${e.message}`),
        );
        this.onExit(child, why());
      });
      child.once("exit", (code, signal) => {
        settle(new UserError(`passt exited at start (${signal ?? `status ${code}`}): ${why()}`));
        this.onExit(child, `${signal ?? `status ${code}`}: ${why()}`);
      });
      // passt writes its pid file once initialised (passt(1), --pid); a readiness check, not a timeout.
      const check = () => {
        if (statSync(pidFile, { throwIfNoEntry: false })?.size) {
          settle(null);
          if (child === this.child && !this.closed) this.setCarrier(true);
          return;
        }
        poll = setTimeout(check, 10);
      };
      check();
    });
  }

  private onExit(child: ChildProcess, why: string): void {
    if (child !== this.child) return;
    this.child = null;
    this.socket?.destroy();
    this.socket = null;
    if (this.healthyTimer) clearTimeout(this.healthyTimer);
    if (this.closed) return;
    const wasUp = this.up;
    this.setCarrier(false);
    if (!wasUp && this.starts <= 1) return; // failed at start: openPasst rejects
    this.opts.log(`passt exited (${why}); restarting in ${this.restartMs} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closed) return;
      this.spawnPasst().then(
        () => {
          // Back-off resets once a passt has lived a while.
          this.healthyTimer = setTimeout(() => {
            this.restartMs = RESTART_MIN_MS;
          }, RESTART_MAX_MS);
          this.healthyTimer.unref();
        },
        (e: Error) => this.opts.log(e.message),
      );
    }, this.restartMs);
    this.restartMs = Math.min(this.restartMs * 2, RESTART_MAX_MS);
  }

  private setCarrier(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    if (!up) {
      this.gate.clear();
      this.congested = false;
    }
    this.peer?.carrier(up);
    if (up && this.congested === false) this.peer?.writable();
  }

  send(frame: Uint8Array): boolean {
    const s = this.socket;
    if (!this.up || s === null || s.writableLength > MAX_UNSENT) {
      this.dropped++;
      return true;
    }
    // Length and frame in one write, as QEMU's writev does: bookworm's passt (2023-03) lost frames when
    // tvisor wrote the two separately (guest TCP through the gateway was reset, ARP went unanswered).
    s.write(encodeStreamFrame(frame));
    if (s.writableLength >= CONGESTED_AT) {
      this.congested = true;
      return false;
    }
    return true;
  }

  private onDrain(): void {
    if (!this.congested) return;
    this.congested = false;
    this.peer?.writable();
  }

  /** Split passt's stream into frames (QEMU's stream framing: a 32-bit big-endian length, then the frame). */
  private onData(d: Buffer): void {
    this.inbuf = this.inbuf.length === 0 ? d : Buffer.concat([this.inbuf, d]);
    let off = 0;
    while (this.inbuf.length - off >= 4) {
      const len = this.inbuf.readUInt32BE(off);
      if (len === 0 || len > MAX_FRAME) {
        // Not a frame stream any more: start passt over rather than guess where frames begin.
        this.opts.log(`passt sent a frame length of ${len}; restarting it`);
        this.inbuf = Buffer.alloc(0);
        this.child?.kill("SIGKILL");
        return;
      }
      if (this.inbuf.length - off < 4 + len) break;
      this.deliver(new Uint8Array(this.inbuf.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
    this.inbuf = this.inbuf.subarray(off);
  }

  private deliver(frame: Uint8Array): void {
    this.gate.offer(frame);
  }

  resumeReceive(): void {
    this.gate.resume();
  }

  onReceive(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }

  setPeer(peer: NetPeer): void {
    this.peer = peer;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.healthyTimer) clearTimeout(this.healthyTimer);
    this.setCarrier(false);
    // Closing our end is enough (passt quits when its --fd socket closes); the signal makes it prompt.
    this.socket?.destroy();
    this.child?.kill("SIGTERM");
    this.child = null;
    this.handler = null;
    this.peer = null;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
