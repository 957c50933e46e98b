/** A NIC's wire over UDP: one Ethernet frame per datagram, as QEMU's `-netdev dgram` and `-netdev socket,udp=|mcast=`. */
/*
 * Usage:
 *   unicast:   await DgramNetBackend.open({ kind: "unicast", local: { host: "127.0.0.1", port: 0 }, remote })
 *   multicast: await DgramNetBackend.open({ kind: "mcast", group: "230.0.0.1", port: 1234 })
 *
 * Datagrams carry the bare frame, no length prefix (QEMU net/dgram.c, net/socket.c). Unicast binds
 * `local` and sends to `remote`; a datagram from any other address is still taken, as QEMU does (it
 * does not connect() the socket). Multicast is QEMU's `mcast=`: every member binds the group's port
 * (SO_REUSEADDR), joins the group and sends to group:port, with loopback on so members on one host
 * hear each other. The kernel loops our own datagrams back too; they are recognised by coming from our
 * separate send socket's port on a local address and are not given to our guest (a NIC that hears its
 * own frames breaks IPv6 duplicate address detection).
 * Flow control (io/net-backend.ts): `send` reports congestion once TX_CONGESTED sends wait in Node
 * toward the kernel and calls the NIC's `writable()` when half have completed; a sender that ignores
 * it meets MAX_TX_INFLIGHT, beyond which frames drop. UDP cannot ask the far end to wait, so frames
 * for a NIC that cannot take them are held (at most MAX_HELD, then dropped and counted) until
 * `resumeReceive` — what the kernel's socket buffer does for QEMU while it stops polling the fd.
 * A datagram that is not a frame (under 14 bytes or over MAX_STREAM_FRAME) is dropped and counted.
 */
import { createSocket, type Socket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIPv4, isIPv6 } from "node:net";
import { networkInterfaces } from "node:os";
import { errorMessage, UserError } from "../../base/errors.js";
import type { NetBackend, NetPeer } from "../../io/net-backend.js";
import type { NetAddress } from "../net-address.js";
import { ReceiveGate } from "../receive-gate.js";
import { MAX_STREAM_FRAME } from "../stream-framing.js";

export interface UdpAddress {
  host: string;
  port: number;
}

export type DgramBackendOptions =
  | { kind: "unicast"; local: UdpAddress; remote: UdpAddress }
  | {
      kind: "mcast";
      /** IPv4 multicast group, 224.0.0.0/4. */
      group: string;
      port: number;
      /** Address of the host interface to send from and join on (QEMU `localaddr=`). */
      localAddress?: string;
    };

/** Sends waiting for the kernel at which `send` reports congestion. */
export const TX_CONGESTED = 64;
/** Sends waiting for the kernel beyond which guest frames drop (a sender that ignores congestion). */
export const MAX_TX_INFLIGHT = 256;
/** Datagrams kept for a NIC that cannot take them yet. */
export const MAX_HELD = 256;
const ETH_HEADER = 14;

export interface DgramCounters {
  txFrames: number;
  txBytes: number;
  rxFrames: number;
  rxBytes: number;
  /** Guest frames lost: backlog full, send error, or not a frame. */
  txDropped: number;
  /** Datagrams lost: no receiver, or the held queue full. */
  rxDropped: number;
  /** Datagrams that were not Ethernet frames (runt or oversize). */
  malformed: number;
}

export class DgramNetBackend implements NetBackend {
  readonly counters: DgramCounters = {
    txFrames: 0,
    txBytes: 0,
    rxFrames: 0,
    rxBytes: 0,
    txDropped: 0,
    rxDropped: 0,
    malformed: 0,
  };
  private handler: ((frame: Uint8Array) => void) | null = null;
  private inflight = 0;
  private congested = false;
  private nic: NetPeer | null = null;
  private readonly gate = new ReceiveGate({
    max: MAX_HELD,
    nic: () => this.nic,
    deliver: (f) => this.handOver(f),
    drop: () => this.counters.rxDropped++,
  });
  private closed = false;
  /** The local address actually bound (port read back when 0 was asked). */
  boundAddress: UdpAddress = { host: "", port: 0 };
  private sendPort = -1;
  private readonly localHosts = new Set<string>();

  private constructor(
    private readonly rx: Socket,
    private readonly tx: Socket,
    private readonly dest: UdpAddress,
  ) {}

  static async open(opts: DgramBackendOptions): Promise<DgramNetBackend> {
    checkPort(opts.kind === "unicast" ? opts.local.port : opts.port, true);
    if (opts.kind === "unicast") checkPort(opts.remote.port, false);
    const family = familyOf(opts.kind === "unicast" ? opts.local.host : opts.group);
    const type = family === 6 ? "udp6" : "udp4";
    if (opts.kind === "mcast" && (family !== 4 || !isMulticast4(opts.group)))
      throw new UserError(`mcast=${opts.group}: not an IPv4 multicast address (224.0.0.0/4)`);
    const rx = createSocket({ type, reuseAddr: opts.kind === "mcast" });
    // Multicast: sends leave from their own socket so our looped-back datagrams can be told apart.
    const tx = opts.kind === "mcast" ? createSocket({ type }) : rx;
    const dest = opts.kind === "unicast" ? opts.remote : { host: opts.group, port: opts.port };
    const b = new DgramNetBackend(rx, tx, dest);
    const where =
      opts.kind === "unicast" ? `${opts.local.host}:${opts.local.port}` : `${opts.group}:${opts.port}`;
    try {
      if (opts.kind === "unicast") await bind(rx, opts.local.port, opts.local.host);
      else {
        // Bound to the group's port on all addresses, as QEMU binds the group address itself.
        await bind(rx, opts.port, undefined);
        rx.addMembership(opts.group, opts.localAddress);
        rx.setMulticastLoopback(true);
        await bind(tx, 0, opts.localAddress);
        tx.setMulticastLoopback(true);
        if (opts.localAddress !== undefined) tx.setMulticastInterface(opts.localAddress);
        b.sendPort = tx.address().port;
        for (const list of Object.values(networkInterfaces()))
          for (const i of list ?? []) b.localHosts.add(i.address);
      }
    } catch (e) {
      b.close();
      throw new UserError(`cannot open UDP ${where}: ${errorMessage(e)}`);
    }
    const a = rx.address();
    b.boundAddress = { host: a.address, port: a.port };
    rx.on("message", (msg, rinfo) => b.onMessage(msg, rinfo.address, rinfo.port));
    rx.on("error", () => {});
    tx.on("error", () => {});
    return b;
  }

  /** UDP has no connection: the far end counts as there while the backend is open. */
  get carrier(): boolean {
    return !this.closed;
  }

  /** Frames this backend dropped either way. */
  get dropped(): number {
    return this.counters.txDropped + this.counters.rxDropped;
  }

  send(frame: Uint8Array): boolean {
    if (
      this.closed ||
      frame.length < ETH_HEADER ||
      frame.length > MAX_STREAM_FRAME ||
      this.inflight >= MAX_TX_INFLIGHT
    ) {
      this.counters.txDropped++;
      return true;
    }
    this.inflight++;
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    // dgram.send keeps a reference until the send completes: give it a copy the NIC cannot reuse.
    this.tx.send(frame.slice(), this.dest.port, this.dest.host, (err) => {
      this.inflight--;
      if (err) this.counters.txDropped++;
      if (this.congested && this.inflight <= TX_CONGESTED / 2) {
        this.congested = false;
        this.nic?.writable();
      }
    });
    if (this.inflight < TX_CONGESTED) return true;
    this.congested = true;
    return false;
  }

  onReceive(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }

  setPeer(nic: NetPeer): void {
    this.nic = nic;
    nic.carrier(this.carrier);
  }

  /** The NIC has room again: hand over the datagrams held meanwhile, in order. */
  resumeReceive(): void {
    this.gate.resume();
  }

  /** Frames waiting for the NIC to have room. */
  get heldFrames(): number {
    return this.gate.holding;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.nic = null;
    this.gate.clear();
    for (const s of new Set([this.rx, this.tx])) {
      try {
        s.close();
      } catch {
        // Not bound yet or already closed.
      }
    }
  }

  private onMessage(msg: Buffer, host: string, port: number): void {
    if (port === this.sendPort && this.localHosts.has(host)) return; // our own, looped back
    if (msg.length < ETH_HEADER || msg.length > MAX_STREAM_FRAME) {
      this.counters.malformed++;
      return;
    }
    const frame = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    this.gate.offer(frame);
  }

  private handOver(frame: Uint8Array): void {
    const h = this.handler;
    if (h === null) {
      this.counters.rxDropped++;
      return;
    }
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.length;
    try {
      h(frame);
    } catch {
      this.counters.rxDropped++;
    }
  }
}

function bind(s: Socket, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.bind(port, host, () => {
      s.off("error", reject);
      resolve();
    });
  });
}

function familyOf(host: string): 4 | 6 {
  if (isIPv4(host)) return 4;
  if (isIPv6(host)) return 6;
  throw new UserError(`${host}: not an IP address (datagram sockets take numeric addresses)`);
}

function isMulticast4(a: string): boolean {
  const first = Number(a.split(".")[0]);
  return first >= 224 && first <= 239;
}

function checkPort(port: number, zeroOk: boolean): void {
  if (!Number.isInteger(port) || port < (zeroOk ? 0 : 1) || port > 65535)
    throw new UserError(`UDP port must be ${zeroOk ? 0 : 1}..65535, got ${port}`);
}

export interface DgramSocketOptions {
  /** Where to bind (for multicast: the local interface address, port ignored). */
  local?: NetAddress;
  /** Where frames go; a multicast group address makes it a multicast bus. */
  remote?: NetAddress;
  log(msg: string): void;
}

/**
 * The factory's entry (vmm/node/nic-backend.ts): a datagram NIC from its specification. Host names
 * are resolved once, here. Unix datagram sockets are not offered: Node has no AF_UNIX SOCK_DGRAM.
 */
export async function openDgramSocket(opts: DgramSocketOptions): Promise<NetBackend> {
  const { local, remote } = opts;
  if (local?.type === "unix" || remote?.type === "unix")
    throw new UserError(
      "dgram over Unix datagram sockets is not supported (Node has no AF_UNIX datagrams); use UDP or a stream",
    );
  if (remote === undefined)
    throw new UserError("a UDP datagram NIC needs remote.host and remote.port (where frames go)");
  const remoteHost = await resolveHost(remote.host);
  if (isIPv4(remoteHost) && isMulticast4(remoteHost)) {
    const b = await DgramNetBackend.open({
      kind: "mcast",
      group: remoteHost,
      port: remote.port,
      localAddress: local ? await resolveHost(local.host) : undefined,
    });
    opts.log(`dgram: multicast ${remoteHost}:${remote.port}`);
    return b;
  }
  const b = await DgramNetBackend.open({
    kind: "unicast",
    local: local
      ? { host: await resolveHost(local.host), port: local.port }
      : { host: isIPv6(remoteHost) ? "::" : "0.0.0.0", port: 0 },
    remote: { host: remoteHost, port: remote.port },
  });
  opts.log(`dgram: ${b.boundAddress.host}:${b.boundAddress.port} -> ${remoteHost}:${remote.port}`);
  return b;
}

async function resolveHost(host: string): Promise<string> {
  if (isIPv4(host) || isIPv6(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch (e) {
    throw new UserError(`cannot resolve ${host}: ${errorMessage(e)}`);
  }
}
