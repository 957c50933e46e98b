/** A NIC on a host TAP device (QEMU `-netdev tap,ifname=`): the guest's frames become the interface's, for bridged networking. */
/*
 * Usage: const tap = TapNetBackend.open("tap0"); then bridge it on the host:
 *   ip link add br0 type bridge; ip link set tap0 master br0; ip link set tap0 up; ip link set br0 up
 * tvisor neither creates bridges nor brings the interface up (QEMU leaves that to its ifup script).
 * Frames from the interface are read by a worker thread (tap-reader.ts) and posted here; frames from the
 * guest are written with one nonblocking write(2) each. Bounds: when the NIC has no room the worker
 * stops reading (the kernel's tap queue, txqueuelen frames, then drops) and the frames already posted
 * wait here (at most MAX_HELD, then dropped and counted); a write the kernel refuses (EAGAIN: queue
 * full; EIO: the interface is down) drops that frame and counts it.
 */
import { closeSync, writeSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { NetBackend, NetPeer } from "../../io/net-backend.js";
import { ReceiveGate } from "../receive-gate.js";
import { MAX_STREAM_FRAME } from "../stream-framing.js";
import { openTapFd } from "./tun.js";

/** Frames posted by the reader and kept for a NIC that cannot take them yet. */
export const MAX_HELD = 256;
const ETH_HEADER = 14;

export interface TapCounters {
  txFrames: number;
  txBytes: number;
  rxFrames: number;
  rxBytes: number;
  /** Guest frames the kernel refused (queue full, interface down) or that were not frames. */
  txDropped: number;
  /** Frames for the guest lost: no receiver, or the held queue full. */
  rxDropped: number;
}

export class TapNetBackend implements NetBackend {
  readonly counters: TapCounters = {
    txFrames: 0,
    txBytes: 0,
    rxFrames: 0,
    rxBytes: 0,
    txDropped: 0,
    rxDropped: 0,
  };
  private handler: ((frame: Uint8Array) => void) | null = null;
  private nic: NetPeer | null = null;
  private readonly gate = new ReceiveGate({
    max: MAX_HELD,
    nic: () => this.nic,
    deliver: (f) => this.handOver(f),
    drop: () => this.counters.rxDropped++,
    pause: () => Atomics.store(this.flags, 1, 1), // the reader stops reading until resumeReceive
    resume: () => {
      Atomics.store(this.flags, 1, 0);
      Atomics.notify(this.flags, 1);
    },
  });
  private readonly flags = new Int32Array(new SharedArrayBuffer(8));
  private readonly worker: Worker;
  private closed = false;
  private readerAlive = true;
  /** Why the reader stopped, if it did (the device was deleted, an I/O error). */
  failure: string | null = null;

  private constructor(
    private readonly fd: number,
    readonly ifname: string,
  ) {
    this.worker = new Worker(new URL("./tap-reader.js", import.meta.url), {
      workerData: { fd, flags: this.flags.buffer },
    });
    // The VM's run loop keeps the process alive; the reader thread must not on its own.
    this.worker.unref();
    this.worker.on("message", (m: Uint8Array | { error: string }) => {
      if (m instanceof Uint8Array) this.onFrame(m);
      else this.fail(m.error);
    });
    this.worker.on("error", (e) => this.fail(e.message));
    this.worker.on("exit", () => {
      this.readerAlive = false;
      // Only now is no thread using the fd, so its number cannot be reused under the reader.
      if (this.closed) closeSync(this.fd);
      else this.fail(this.failure ?? "reader stopped");
    });
  }

  /** Attach to TAP interface `ifname` (created if absent); throws a one-line UserError when it cannot. */
  static open(ifname: string): TapNetBackend {
    const { fd, ifname: name } = openTapFd(ifname);
    return new TapNetBackend(fd, name);
  }

  /** The device is there while the reader runs; a deleted interface ends it (carrier down). */
  get carrier(): boolean {
    return !this.closed && this.failure === null;
  }

  get dropped(): number {
    return this.counters.txDropped + this.counters.rxDropped;
  }

  send(frame: Uint8Array): boolean {
    if (this.closed || frame.length < ETH_HEADER || frame.length > MAX_STREAM_FRAME) {
      this.counters.txDropped++;
      return true;
    }
    try {
      writeSync(this.fd, frame);
      this.counters.txFrames++;
      this.counters.txBytes += frame.length;
    } catch {
      // EAGAIN (the tap's queue is full) or EIO (the interface is down): the frame is lost, as on a wire.
      this.counters.txDropped++;
    }
    return true;
  }

  onReceive(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }

  setPeer(nic: NetPeer): void {
    this.nic = nic;
    nic.carrier(this.carrier);
  }

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
    Atomics.store(this.flags, 0, 1);
    Atomics.notify(this.flags, 1);
    if (!this.readerAlive) closeSync(this.fd);
  }

  private onFrame(frame: Uint8Array): void {
    if (this.closed) return;
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

  private fail(why: string): void {
    if (this.failure !== null || this.closed) return;
    this.failure = `tap ${this.ifname}: ${why}`;
    this.nic?.carrier(false);
  }
}

export interface TapOptions {
  ifname: string;
  log(msg: string): void;
}

/** The factory's entry (vmm/node/nic-backend.ts). */
export async function openTap(opts: TapOptions): Promise<NetBackend> {
  const b = TapNetBackend.open(opts.ifname);
  opts.log(`tap: attached to ${b.ifname}`);
  return b;
}
