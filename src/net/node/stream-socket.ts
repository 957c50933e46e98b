/** A NIC's wire over a Unix or TCP stream socket, framed as QEMU's `-netdev stream` / `-netdev socket`. */
/*
 * Usage:
 *   const b = await StreamNetBackend.open({ mode: "listen", address: { type: "inet", host: "127.0.0.1", port: 0 } });
 *   b.boundAddress  // the port read back
 *   const c = await StreamNetBackend.open({ mode: "connect", address: b.boundAddress, reconnectSeconds: 1 });
 *
 * Semantics follow QEMU (docs: "-netdev stream", net/stream.c):
 * - listen: one peer at a time. While a peer is connected further connections are refused (closed at
 *   once, counted in `refused`); when it leaves, the next one is accepted. A Unix path left by a dead
 *   listener is replaced; a live one (something accepts on it) or a non-socket file is a UserError.
 * - connect: the first connection must succeed unless `reconnectSeconds` is set (QEMU's `reconnect=`):
 *   then failures and disconnections are retried every that many seconds, for as long as the backend
 *   is open. Without it a lost connection stays lost.
 * - The link is up exactly while a peer is connected (QEMU sets `link_down` while disconnected), so the
 *   guest sees carrier follow the wire.
 * Flow control (io/net-backend.ts, QEMU's can_receive / qemu_flush_queued_packets): when the NIC
 * cannot take a frame the socket stops being read, so the peer's kernel buffers fill and the peer
 * slows down; the frames already decoded from the last chunk wait (at most MAX_HELD) until
 * `resumeReceive`. Toward the peer, `send` returns false once TX_CONGESTED bytes wait in the socket
 * and the NIC is told `writable()` when the socket drains.
 * Bounds (the peer and the guest are both untrusted): at most one partial frame is held on receive; a
 * length of 0 or above MAX_STREAM_FRAME drops the connection (`malformed`); a sender that ignores
 * congestion meets MAX_TX_BACKLOG, beyond which frames are dropped (`txDropped`).
 */
import { lstatSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { errorMessage, UserError } from "../../base/errors.js";
import type { NetBackend, NetPeer } from "../../io/net-backend.js";
import { formatNetAddress, type NetAddress } from "../net-address.js";
import { ReceiveGate } from "../receive-gate.js";
import {
  encodeStreamFrame,
  MAX_STREAM_FRAME,
  StreamFrameDecoder,
  StreamFramingError,
} from "../stream-framing.js";

/** Where a stream socket listens or connects. */
export type StreamAddress = NetAddress;

export interface StreamBackendOptions {
  mode: "listen" | "connect";
  address: StreamAddress;
  /** connect only: retry a failed or lost connection every this many seconds (QEMU `reconnect=`). */
  reconnectSeconds?: number;
  /** With reconnectSeconds: the first attempt must still succeed (a switch port: a missing switch is an error). */
  firstMustConnect?: boolean;
}

/** Bytes waiting in the socket at which `send` reports congestion (QEMU's send queue is similar in size). */
export const TX_CONGESTED = 256 << 10;
/** Bytes waiting in the socket beyond which guest frames are dropped: a sender that ignores congestion. */
export const MAX_TX_BACKLOG = 1 << 20;
/** Decoded frames kept for a NIC that cannot take them yet (those of the chunk being decoded). */
export const MAX_HELD = 1024;

/** Frame and byte counts each way, and why frames were lost. */
export interface StreamCounters {
  txFrames: number;
  txBytes: number;
  rxFrames: number;
  rxBytes: number;
  /** Guest frames lost: no peer connected, backlog full, or not a frame (empty or oversize). */
  txDropped: number;
  /** Peer frames lost: nobody registered to receive them, or the held queue full. */
  rxDropped: number;
  /** Connections dropped for a bad length prefix or a frame cut off by the peer closing. */
  malformed: number;
  /** Connections accepted or made, and (listen) extra ones refused while a peer was connected. */
  connects: number;
  refused: number;
}

export class StreamNetBackend implements NetBackend {
  readonly counters: StreamCounters = {
    txFrames: 0,
    txBytes: 0,
    rxFrames: 0,
    rxBytes: 0,
    txDropped: 0,
    rxDropped: 0,
    malformed: 0,
    connects: 0,
    refused: 0,
  };
  private handler: ((frame: Uint8Array) => void) | null = null;
  private nic: NetPeer | null = null;
  /** Frames decoded while the NIC could not take them, delivered first on resume. */
  private readonly gate = new ReceiveGate({
    max: MAX_HELD,
    nic: () => this.nic,
    deliver: (f) => this.handOver(f),
    drop: () => this.counters.rxDropped++,
    // Stop reading: the peer waits in its kernel buffers. This chunk's frames wait here.
    pause: () => this.peer?.pause(),
    resume: () => {
      if (this.peer?.isPaused()) this.peer.resume();
    },
  });
  private congested = false;
  private readonly linkListeners = new Set<(up: boolean) => void>();
  private peer: Socket | null = null;
  private server: Server | null = null;
  private readonly decoder = new StreamFrameDecoder();
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private ownsPath: string | null = null;
  /** The address in use: for a TCP listener on port 0, the port the kernel chose. */
  boundAddress: StreamAddress;

  private constructor(private readonly opts: StreamBackendOptions) {
    this.boundAddress = opts.address;
  }

  /** Listen (ready once listening) or connect (ready once connected, or at once with reconnect). */
  static async open(opts: StreamBackendOptions): Promise<StreamNetBackend> {
    if (opts.reconnectSeconds !== undefined) {
      if (opts.mode !== "connect") throw new UserError("reconnect= applies only to a connecting stream");
      if (
        !Number.isInteger(opts.reconnectSeconds) ||
        opts.reconnectSeconds < 1 ||
        opts.reconnectSeconds > 86400
      )
        throw new UserError(`reconnect= must be 1..86400 seconds, got ${opts.reconnectSeconds}`);
    }
    const b = new StreamNetBackend(opts);
    if (opts.mode === "listen") await b.listen();
    else if (opts.reconnectSeconds !== undefined && !opts.firstMustConnect) b.connect();
    else {
      try {
        await b.connectOnce();
      } catch (e) {
        b.close();
        throw new UserError(`cannot connect to ${formatNetAddress(opts.address)}: ${errorMessage(e)}`);
      }
    }
    return b;
  }

  /** True while a peer is connected. */
  get linkUp(): boolean {
    return this.peer !== null;
  }

  /** Called with the new state each time a peer connects or goes away. */
  onLinkChange(listener: (up: boolean) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  /** The NIC's far end is there: a peer is connected. */
  get carrier(): boolean {
    return this.peer !== null;
  }

  /** Frames this backend dropped either way. */
  get dropped(): number {
    return this.counters.txDropped + this.counters.rxDropped;
  }

  send(frame: Uint8Array): boolean {
    const peer = this.peer;
    if (
      peer === null ||
      frame.length === 0 ||
      frame.length > MAX_STREAM_FRAME ||
      peer.writableLength > MAX_TX_BACKLOG
    ) {
      this.counters.txDropped++;
      return true;
    }
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    peer.write(encodeStreamFrame(frame));
    if (peer.writableLength < TX_CONGESTED) return true;
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

  /** The NIC has room: hand over held frames, and read the socket again once they are all taken. */
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
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.peer?.destroy();
    this.dropPeer();
    this.nic = null;
    this.server?.close();
    this.server = null;
    if (this.ownsPath !== null) {
      try {
        unlinkSync(this.ownsPath);
      } catch {
        // Already gone: nothing to clean.
      }
    }
  }

  private async listen(): Promise<void> {
    const a = this.opts.address;
    if (a.type === "unix") await takeOverStalePath(a.path);
    const server = createServer({ pauseOnConnect: true }, (s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) =>
        reject(new UserError(`cannot listen on ${formatNetAddress(a)}: ${errorMessage(e)}`)),
      );
      if (a.type === "unix") server.listen(a.path, resolve);
      else server.listen(a.port, a.host, resolve);
    }).catch((e: unknown) => {
      this.close();
      throw e;
    });
    // Later errors (EMFILE on accept) must not become uncaught exceptions in the VM's process.
    server.on("error", () => {});
    if (a.type === "unix") this.ownsPath = a.path;
    else {
      const bound = server.address();
      if (bound !== null && typeof bound === "object") this.boundAddress = { ...a, port: bound.port };
    }
  }

  private accept(s: Socket): void {
    if (this.closed || this.peer !== null) {
      this.counters.refused++;
      s.destroy();
      return;
    }
    this.attach(s);
  }

  /** One connection attempt; resolves when connected. */
  private connectOnce(): Promise<void> {
    const a = this.opts.address;
    return new Promise<void>((resolve, reject) => {
      const s = a.type === "unix" ? createConnection(a.path) : createConnection(a.port, a.host);
      s.pause();
      const onError = (e: Error): void => {
        s.destroy();
        reject(e);
      };
      s.once("error", onError);
      s.once("connect", () => {
        s.off("error", onError);
        if (this.closed) {
          s.destroy();
          reject(new Error("closed"));
          return;
        }
        this.attach(s);
        resolve();
      });
    });
  }

  /** Connect with retries (reconnect mode): failures schedule the next attempt. */
  private connect(): void {
    if (this.closed) return;
    this.connectOnce().catch(() => this.scheduleReconnect());
  }

  private scheduleReconnect(): void {
    const secs = this.opts.reconnectSeconds;
    if (this.closed || secs === undefined || this.retry !== null) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect();
    }, secs * 1000);
    // A pending retry must not keep a process alive on its own.
    this.retry.unref();
  }

  private attach(s: Socket): void {
    this.peer = s;
    this.decoder.reset();
    this.counters.connects++;
    s.setNoDelay?.(true);
    s.on("data", (chunk: Buffer) => this.onData(s, chunk));
    s.on("error", () => {});
    s.on("drain", () => {
      if (this.peer !== s || !this.congested) return;
      this.congested = false;
      this.nic?.writable();
    });
    s.on("close", () => {
      if (this.peer !== s) return;
      if (this.decoder.partial) this.counters.malformed++;
      this.dropPeer();
      if (this.opts.mode === "connect") this.scheduleReconnect();
    });
    if (this.gate.holding === 0) s.resume();
    this.emitLink(true);
  }

  private onData(s: Socket, chunk: Buffer): void {
    if (this.peer !== s) return;
    try {
      this.decoder.push(chunk, (frame) => this.deliver(frame));
    } catch (e) {
      if (!(e instanceof StreamFramingError)) throw e;
      // The stream cannot be resynchronised after a bad length: drop the connection.
      this.counters.malformed++;
      this.decoder.reset();
      s.destroy();
    }
  }

  private deliver(frame: Uint8Array): void {
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
      // A receiver's fault loses that frame only; it must not tear down the socket's data handler.
      this.counters.rxDropped++;
    }
  }

  private dropPeer(): void {
    if (this.peer === null) return;
    this.peer = null;
    this.decoder.reset();
    const wasCongested = this.congested;
    this.congested = false;
    this.emitLink(false);
    // The NIC stopped transmitting for this socket's 'drain', which will never come now: release it (after
    // the link went down, so it drops its queue, counted, as QEMU's virtio_net_drop_tx_queue_data). Without
    // this its transmit queue stayed stopped for good, also once a peer was back.
    if (wasCongested) this.nic?.writable();
  }

  private emitLink(up: boolean): void {
    this.nic?.carrier(up);
    for (const l of this.linkListeners) l(up);
  }
}

/**
 * A listener's Unix path may be left by a dead process (QEMU unlinks before bind). Replace it only if
 * it is a socket nobody accepts on; refuse a live one and anything that is not a socket.
 */
export async function takeOverStalePath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // does not exist
  }
  if (!isSocket) throw new UserError(`cannot listen on unix:${path}: exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
  if (live) throw new UserError(`cannot listen on unix:${path}: another process is listening there`);
  unlinkSync(path);
}

export interface StreamSocketOptions {
  /** Listen (true) for one peer at `addr`, or connect (false) to it. */
  server: boolean;
  addr: NetAddress;
  /** Client only: retry a failed or lost connection every this many seconds (QEMU `reconnect=`). */
  reconnect?: number;
  log(msg: string): void;
}

/** The factory's entry (vmm/node/nic-backend.ts): a stream NIC from its specification. */
export async function openStreamSocket(opts: StreamSocketOptions): Promise<NetBackend> {
  const b = await StreamNetBackend.open({
    mode: opts.server ? "listen" : "connect",
    address: opts.addr,
    reconnectSeconds: opts.reconnect,
  });
  if (opts.server) opts.log(`stream: listening on ${formatNetAddress(b.boundAddress)}`);
  b.onLinkChange((up) =>
    opts.log(`stream ${formatNetAddress(b.boundAddress)}: ${up ? "peer connected" : "peer gone"}`),
  );
  return b;
}
