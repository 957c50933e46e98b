/** The device side of a split virtqueue (VIRTIO 1.2 §2.7), hardened against a hostile driver. */
/*
 * Every guest-controlled address is checked against GuestRam before use: the ring areas once, when
 * the queue is made ready (validateLayout), and every buffer while its chain is walked (pop). A
 * malformed ring or chain throws VirtqueueError; the transport catches it and marks the device
 * DEVICE_NEEDS_RESET (§2.1.2) instead of letting it escape an MMIO access.
 */

import { type SavedState, StateReader } from "../../base/state.js";
import { TWO_POW_32 } from "../../base/u64.js";
import type { GuestRam } from "../../memory/guest-ram.js";
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_MAX_SIZE,
} from "./constants.js";

/** A driver error in a ring or descriptor chain; the device must stop using the queue. */
export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VirtqueueError";
  }
}

/** Used lengths and total chain sizes are 32-bit in the ring (§2.7.8). */
const MAX_CHAIN_BYTES = 0xffffffff;

/**
 * One available buffer: its head index and its scatter-gather list, split into the device-readable
 * part followed by the device-writable part (§2.7.4.2). Both parts act as flat byte streams.
 */
export class DescriptorChain {
  readonly readAddr: number[] = [];
  readonly readLen: number[] = [];
  readonly writeAddr: number[] = [];
  readonly writeLen: number[] = [];
  readBytes = 0;
  writeBytes = 0;

  constructor(
    private readonly ram: GuestRam,
    readonly head: number,
  ) {}

  /** Copy up to dst.length bytes from the readable stream at `offset`; returns the count copied. */
  read(offset: number, dst: Uint8Array): number {
    return this.copy(this.readAddr, this.readLen, offset, dst, false);
  }

  /** Copy src into the writable stream at `offset`; returns the count copied (short at the end). */
  write(offset: number, src: Uint8Array): number {
    return this.copy(this.writeAddr, this.writeLen, offset, src, true);
  }

  private copy(addrs: number[], lens: number[], offset: number, buf: Uint8Array, toGuest: boolean): number {
    let done = 0;
    for (let i = 0; i < addrs.length && done < buf.length; i++) {
      const len = lens[i];
      if (offset >= len) {
        offset -= len;
        continue;
      }
      const n = Math.min(len - offset, buf.length - done);
      // Ranges were checked in pop(); slice() re-checks, so memory outside RAM is never touched.
      const mem = toGuest
        ? this.ram.sliceForWrite(addrs[i] + offset, n)
        : this.ram.slice(addrs[i] + offset, n);
      if (mem === null) return done;
      if (toGuest) mem.set(buf.subarray(done, done + n));
      else buf.set(mem, done);
      done += n;
      offset = 0;
    }
    return done;
  }
}

/** Device-side state of one split virtqueue. */
/** A checked saved queue (Virtqueue.check). */
export interface QueueSnapshot {
  size: number;
  ready: boolean;
  descAddr: number;
  driverAddr: number;
  deviceAddr: number;
  lastAvailIdx: number;
  usedIdx: number;
  signalledUsed: number;
  signalledValid: boolean;
}

export class Virtqueue {
  /** Queue size chosen by the driver (QueueNum); a power of two ≤ maxSize. */
  size: number;
  ready = false;
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  /** Next available-ring entry the device will consume (§2.7.13.1 last_avail_idx). */
  lastAvailIdx = 0;
  /** Next used-ring index the device will fill. */
  usedIdx = 0;
  /** Used index at the last interrupt decision, for VIRTIO_RING_F_EVENT_IDX (§2.7.10). */
  private signalledUsed = 0;
  private signalledValid = false;
  /** Negotiated ring features, set by the transport at FEATURES_OK. */
  indirect = false;
  eventIdx = false;

  constructor(
    private readonly ram: GuestRam,
    readonly maxSize: number,
  ) {
    this.size = maxSize;
  }

  /** Return to the reset state (§2.1.2 / §4.2.3.1). */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descAddr = 0;
    this.driverAddr = 0;
    this.deviceAddr = 0;
    this.lastAvailIdx = 0;
    this.usedIdx = 0;
    this.signalledUsed = 0;
    this.signalledValid = false;
    this.indirect = false;
    this.eventIdx = false;
  }

  /**
   * Check size and ring placement before the queue goes live (§2.7: size a power of 2, descriptor
   * table 16-aligned, driver area 2-aligned, device area 4-aligned, all inside RAM).
   * Returns an error message, or null when the layout is usable.
   */
  validateLayout(): string | null {
    const n = this.size;
    if (n < 1 || n > this.maxSize || n > VIRTQ_MAX_SIZE || (n & (n - 1)) !== 0) return `bad queue size ${n}`;
    if (this.descAddr % 16 !== 0 || this.driverAddr % 2 !== 0 || this.deviceAddr % 4 !== 0) {
      return "misaligned ring";
    }
    // §2.7.5, §2.7.6, §2.7.8 sizes, including used_event / avail_event.
    if (!this.ram.contains(this.descAddr, 16 * n)) return "descriptor table outside RAM";
    if (!this.ram.contains(this.driverAddr, 6 + 2 * n)) return "driver area outside RAM";
    if (!this.ram.contains(this.deviceAddr, 6 + 8 * n)) return "device area outside RAM";
    return null;
  }

  /** True when the driver has made buffers available that the device has not consumed. */
  hasAvailable(): boolean {
    return this.ready && this.availIdx() !== this.lastAvailIdx;
  }

  /**
   * Take the next available chain, or null when there is none. Throws VirtqueueError when the ring
   * or chain is malformed; the queue must then not be used until reset.
   */
  pop(): DescriptorChain | null {
    if (!this.ready) return null;
    const avail = this.availIdx();
    const pending = (avail - this.lastAvailIdx) & 0xffff;
    if (pending === 0) return null;
    // §2.7.13.3: the driver can never have more than `size` buffers outstanding.
    if (pending > this.size)
      throw new VirtqueueError(`avail idx ${avail} runs ${pending} ahead of a ${this.size}-entry ring`);
    const head = this.u16(this.driverAddr + 4 + 2 * (this.lastAvailIdx % this.size));
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    if (this.eventIdx) {
      // §2.7.10: avail_event tells the driver to notify once it adds past what we have consumed.
      this.setU16(this.deviceAddr + 4 + 8 * this.size, this.lastAvailIdx);
    }
    return this.walk(head);
  }

  /** Give the most recently popped chain back (when a device cannot use it yet, e.g. too small). */
  unpop(): void {
    this.lastAvailIdx = (this.lastAvailIdx - 1) & 0xffff;
  }

  /** Return a chain to the driver with `len` bytes written to its writable part (§2.7.8). */
  push(head: number, len: number): void {
    // A completion that arrives after the driver disabled the queue (QueueReady = 0, §4.2.2) must not
    // be written: the ring addresses and size are the driver's to change again and were never
    // re-validated, so writing would scribble on whatever guest memory they now name.
    if (!this.ready) return;
    const slot = this.deviceAddr + 4 + 8 * (this.usedIdx % this.size);
    this.setU32(slot, head);
    this.setU32(slot + 4, len);
    // The element is in place before the index that publishes it (§2.7.13.3 ordering).
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.setU16(this.deviceAddr + 2, this.usedIdx);
  }

  /**
   * Whether the driver wants an interrupt for the buffers used since the last decision (§2.7.7,
   * §2.7.10). Calling it consumes the decision.
   */
  shouldNotify(): boolean {
    if (!this.ready) return false;
    const old = this.signalledUsed;
    const now = this.usedIdx;
    const valid = this.signalledValid;
    this.signalledUsed = now;
    this.signalledValid = true;
    if (valid && old === now) return false;
    if (this.eventIdx) {
      const usedEvent = this.u16(this.driverAddr + 4 + 2 * this.size);
      // vring_need_event: notify iff used_event lies in [old, now).
      return !valid || ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (this.u16(this.driverAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  save(): SavedState {
    return {
      kind: "virtqueue",
      version: 1,
      size: this.size,
      ready: this.ready,
      descAddr: this.descAddr,
      driverAddr: this.driverAddr,
      deviceAddr: this.deviceAddr,
      lastAvailIdx: this.lastAvailIdx,
      usedIdx: this.usedIdx,
      signalledUsed: this.signalledUsed,
      signalledValid: this.signalledValid,
    };
  }

  /**
   * Check a saved queue against this queue's limits and RAM without changing anything: sizes, 16-bit
   * ring indices, and for a ready queue a layout that validateLayout accepts (every ring inside RAM,
   * aligned, a power-of-two size within QueueNumMax), as when the driver sets QueueReady.
   */
  check(state: unknown): QueueSnapshot {
    const r = new StateReader(state, "virtqueue", "virtqueue", 1);
    // Addresses are whatever the driver wrote as two 32-bit halves; a ready queue's are checked below.
    const addr = (field: string): number => r.u64Number(field);
    const snap: QueueSnapshot = {
      // The driver may write any QueueNum while the queue is not ready; it is checked at QueueReady.
      size: r.u32("size"),
      ready: r.bool("ready"),
      descAddr: addr("descAddr"),
      driverAddr: addr("driverAddr"),
      deviceAddr: addr("deviceAddr"),
      lastAvailIdx: r.int("lastAvailIdx", 0, 0xffff),
      usedIdx: r.int("usedIdx", 0, 0xffff),
      signalledUsed: r.int("signalledUsed", 0, 0xffff),
      signalledValid: r.bool("signalledValid"),
    };
    r.done();
    if (snap.ready) {
      const probe = new Virtqueue(this.ram, this.maxSize);
      probe.apply(snap);
      const why = probe.validateLayout();
      if (why !== null) r.fail("ready", `a ready queue with ${why}`);
    }
    return snap;
  }

  /** Take a snapshot made by check(). */
  apply(v: QueueSnapshot): void {
    this.size = v.size;
    this.ready = v.ready;
    this.descAddr = v.descAddr;
    this.driverAddr = v.driverAddr;
    this.deviceAddr = v.deviceAddr;
    this.lastAvailIdx = v.lastAvailIdx;
    this.usedIdx = v.usedIdx;
    this.signalledUsed = v.signalledUsed;
    this.signalledValid = v.signalledValid;
  }

  /** Restore a saved queue; every field is checked (check()) before anything changes. */
  restore(state: SavedState): void {
    this.apply(this.check(state));
  }

  private availIdx(): number {
    return this.u16(this.driverAddr + 2);
  }

  /** Walk a chain from `head`, following at most one indirect table (§2.7.5.3). */
  private walk(head: number): DescriptorChain {
    if (head >= this.size) throw new VirtqueueError(`head ${head} beyond queue size ${this.size}`);
    const chain = new DescriptorChain(this.ram, head);
    let table = this.descAddr;
    let tableLen = this.size;
    let idx = head;
    let count = 0;
    let inIndirect = false;
    for (;;) {
      // A chain visits each descriptor of its table at most once; more means a loop (§2.7.5.2).
      if (++count > tableLen) throw new VirtqueueError("descriptor chain loops or exceeds the table");
      const d = table + 16 * idx;
      const addr = this.u32(d) + this.u32(d + 4) * TWO_POW_32;
      const len = this.u32(d + 8);
      const flags = this.u16(d + 12);
      const next = this.u16(d + 14);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect)
          throw new VirtqueueError("indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
        if (inIndirect) throw new VirtqueueError("nested indirect descriptor");
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError("indirect descriptor with NEXT");
        if (len === 0 || len % 16 !== 0 || len / 16 > VIRTQ_MAX_SIZE) {
          throw new VirtqueueError(`indirect table length ${len}`);
        }
        if (!this.ram.contains(addr, len)) throw new VirtqueueError("indirect table outside RAM");
        // §2.7.5.3.2: the device ignores WRITE on the descriptor that points at the table.
        table = addr;
        tableLen = len / 16;
        idx = 0;
        count = 0;
        inIndirect = true;
        continue;
      }
      if (!this.ram.contains(addr, len))
        throw new VirtqueueError(`buffer 0x${addr.toString(16)}+${len} outside RAM`);
      if (flags & VIRTQ_DESC_F_WRITE) {
        chain.writeAddr.push(addr);
        chain.writeLen.push(len);
        chain.writeBytes += len;
        if (chain.writeBytes > MAX_CHAIN_BYTES) throw new VirtqueueError("writable part exceeds 4 GiB");
      } else {
        // §2.7.4.2: readable descriptors come before writable ones.
        if (chain.writeAddr.length > 0) throw new VirtqueueError("readable descriptor after a writable one");
        chain.readAddr.push(addr);
        chain.readLen.push(len);
        chain.readBytes += len;
        if (chain.readBytes > MAX_CHAIN_BYTES) throw new VirtqueueError("readable part exceeds 4 GiB");
      }
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) return chain;
      if (next >= tableLen) throw new VirtqueueError(`next index ${next} beyond table of ${tableLen}`);
      idx = next;
    }
  }

  // Ring accessors. Ring areas were validated in validateLayout(); descriptor tables are validated
  // per walk. The DataView still bounds-checks, so a mistake here throws rather than corrupts.
  private u16(gpa: number): number {
    return this.ram.view.getUint16(gpa - this.ram.base, true);
  }
  private u32(gpa: number): number {
    return this.ram.view.getUint32(gpa - this.ram.base, true);
  }
  private setU16(gpa: number, v: number): void {
    this.ram.view.setUint16(gpa - this.ram.base, v, true);
    this.ram.noteWrite(gpa - this.ram.base, 2);
  }
  private setU32(gpa: number, v: number): void {
    this.ram.view.setUint32(gpa - this.ram.base, v >>> 0, true);
    this.ram.noteWrite(gpa - this.ram.base, 4);
  }
}
