/** The receive side of a backend's flow control: hold frames while the NIC has no room, hand them over in order. */
/*
 * QEMU's net layer (net/queue.c, qemu_flush_queued_packets): a frame the receiving NIC cannot take now
 * (`NetPeer.canReceive` false) is queued, later frames queue behind it so order is kept, and the source
 * stops being read (`pause`) until the NIC has room again (`resume`, from `NetBackend.resumeReceive`).
 * The queue is bounded: a source that keeps sending past `max` (UDP, a source that cannot be paused at
 * once) loses frames, counted by `drop`. Every socket-like backend (stream, dgram, TAP, passt) uses this.
 */

import type { NetPeer } from "../io/net-backend.js";

export interface ReceiveGateOptions {
  /** Frames held at most; beyond that `drop` is called. */
  max: number;
  /** The NIC's flow-control signals, or null while none is registered (then frames pass). */
  nic(): NetPeer | null;
  /** Give one frame to the NIC. */
  deliver(frame: Uint8Array): void;
  /** A frame was lost because the queue was full. */
  drop(): void;
  /** Stop reading the source (called each time a frame is held). */
  pause?(): void;
  /** Read the source again: everything held has been handed over. */
  resume?(): void;
  /** Copy frames that are held (the source reuses or keeps a view of its buffer). */
  copyHeld?: boolean;
}

export class ReceiveGate {
  private held: Uint8Array[] = [];

  constructor(private readonly opts: ReceiveGateOptions) {}

  /** Frames waiting for the NIC. */
  get holding(): number {
    return this.held.length;
  }

  /** A frame from the source: handed over now, or held behind earlier ones while the NIC has no room. */
  offer(frame: Uint8Array): void {
    if (this.held.length === 0 && this.canReceive()) {
      this.opts.deliver(frame);
      return;
    }
    this.opts.pause?.();
    if (this.held.length >= this.opts.max) this.opts.drop();
    else this.held.push(this.opts.copyHeld ? frame.slice() : frame);
  }

  /** The NIC has room: hand over held frames in order; read the source again once all are taken. */
  resume(): void {
    while (this.held.length > 0) {
      if (!this.canReceive()) return;
      this.opts.deliver(this.held.shift() as Uint8Array);
    }
    this.opts.resume?.();
  }

  private canReceive(): boolean {
    const nic = this.opts.nic();
    return nic === null || nic.canReceive();
  }

  /** Forget what is held (the link went down, the backend closed). */
  clear(): void {
    this.held = [];
  }
}
