/** A minimal virtio-mmio driver for unit tests: negotiates, lays out split rings in RAM and submits chains via MMIO. */
import { TWO_POW_32 } from "../../base/u64.js";
import type { GuestRam } from "../../memory/guest-ram.js";
import * as C from "./constants.js";
import type { VirtioMmioTransport } from "./mmio-transport.js";

/** A buffer in a chain: readable data for the device, or `writable` bytes for the device to fill. */
export type TestBuffer = { data: Uint8Array } | { writable: number };

interface DriverQueue {
  size: number;
  desc: number;
  avail: number;
  used: number;
  nextDesc: number;
  availIdx: number;
  lastUsed: number;
}

export interface UsedElem {
  id: number;
  len: number;
}

/** Drives a transport the way Linux's virtio_mmio + virtio_ring do, with raw access for malformed input. */
export class TestDriver {
  readonly queues: DriverQueue[] = [];
  /** Next free guest address of the bump allocator. */
  heap: number;

  constructor(
    readonly t: VirtioMmioTransport,
    readonly ram: GuestRam,
  ) {
    this.heap = ram.base + 0x1000;
  }

  /** Bump-allocate guest memory. */
  alloc(len: number, align = 16): number {
    this.heap = Math.ceil(this.heap / align) * align;
    const a = this.heap;
    this.heap += len;
    if (this.heap > this.ram.base + this.ram.size) throw new Error("test RAM exhausted");
    return a;
  }

  reg(off: number): number {
    return this.t.read(off, 4);
  }

  setReg(off: number, v: number): void {
    this.t.write(off, 4, v);
  }

  /**
   * §3.1.1 initialization: reset, ACKNOWLEDGE, DRIVER, features (`accept` filters the offer, default
   * all), FEATURES_OK, queues, DRIVER_OK. Returns false if FEATURES_OK did not stick.
   */
  init(opts: { accept?: (bank: number, offered: number) => number; queueSize?: number } = {}): boolean {
    this.setReg(C.VIRTIO_MMIO_STATUS, 0);
    this.setReg(C.VIRTIO_MMIO_STATUS, C.VIRTIO_STATUS_ACKNOWLEDGE);
    this.setReg(C.VIRTIO_MMIO_STATUS, C.VIRTIO_STATUS_ACKNOWLEDGE | C.VIRTIO_STATUS_DRIVER);
    for (let bank = 0; bank < 2; bank++) {
      this.setReg(C.VIRTIO_MMIO_DEVICE_FEATURES_SEL, bank);
      const offered = this.reg(C.VIRTIO_MMIO_DEVICE_FEATURES);
      this.setReg(C.VIRTIO_MMIO_DRIVER_FEATURES_SEL, bank);
      this.setReg(C.VIRTIO_MMIO_DRIVER_FEATURES, opts.accept ? opts.accept(bank, offered) : offered);
    }
    const s = C.VIRTIO_STATUS_ACKNOWLEDGE | C.VIRTIO_STATUS_DRIVER | C.VIRTIO_STATUS_FEATURES_OK;
    this.setReg(C.VIRTIO_MMIO_STATUS, s);
    if ((this.reg(C.VIRTIO_MMIO_STATUS) & C.VIRTIO_STATUS_FEATURES_OK) === 0) return false;
    this.queues.length = 0;
    for (let i = 0; ; i++) {
      this.setReg(C.VIRTIO_MMIO_QUEUE_SEL, i);
      const max = this.reg(C.VIRTIO_MMIO_QUEUE_NUM_MAX);
      if (max === 0) break;
      this.setupQueue(i, Math.min(max, opts.queueSize ?? 16));
    }
    this.setReg(C.VIRTIO_MMIO_STATUS, s | C.VIRTIO_STATUS_DRIVER_OK);
    return true;
  }

  /**
   * A driver for `t` over `ram` that carries on where this one stopped: the same rings, ring indices and
   * heap. With this driver's RAM copied into `ram` and a saved transport restored into `t`, the new driver
   * shows whether the restored device continues the rings or starts them over.
   */
  continueOn(t: VirtioMmioTransport, ram: GuestRam): TestDriver {
    const d = new TestDriver(t, ram);
    d.heap = this.heap;
    for (const q of this.queues) d.queues.push({ ...q });
    return d;
  }

  /** Allocate rings for queue `i` with `size` entries and make it ready. */
  setupQueue(i: number, size: number): void {
    const q: DriverQueue = {
      size,
      desc: this.alloc(16 * size, 16),
      avail: this.alloc(6 + 2 * size, 2),
      used: this.alloc(6 + 8 * size, 4),
      nextDesc: 0,
      availIdx: 0,
      lastUsed: 0,
    };
    this.queues[i] = q;
    this.setReg(C.VIRTIO_MMIO_QUEUE_SEL, i);
    this.setReg(C.VIRTIO_MMIO_QUEUE_NUM, size);
    this.setReg(C.VIRTIO_MMIO_QUEUE_DESC_LOW, q.desc);
    this.setReg(C.VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
    this.setReg(C.VIRTIO_MMIO_QUEUE_DRIVER_LOW, q.avail);
    this.setReg(C.VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
    this.setReg(C.VIRTIO_MMIO_QUEUE_DEVICE_LOW, q.used);
    this.setReg(C.VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
    this.setReg(C.VIRTIO_MMIO_QUEUE_READY, 1);
  }

  /** Write descriptor `idx` of a table at `table`. */
  writeDesc(table: number, idx: number, addr: number, len: number, flags: number, next: number): void {
    const o = table + 16 * idx - this.ram.base;
    const v = this.ram.view;
    v.setUint32(o, addr % TWO_POW_32, true);
    v.setUint32(o + 4, Math.floor(addr / TWO_POW_32), true);
    v.setUint32(o + 8, len >>> 0, true);
    v.setUint16(o + 12, flags, true);
    v.setUint16(o + 14, next, true);
  }

  /** Put `head` in the available ring and publish it (no notify). */
  publish(qi: number, head: number): void {
    const q = this.queues[qi];
    const v = this.ram.view;
    v.setUint16(q.avail + 4 + 2 * (q.availIdx % q.size) - this.ram.base, head, true);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    v.setUint16(q.avail + 2 - this.ram.base, q.availIdx, true);
  }

  /**
   * Build a chain from `bufs` (direct, or through one indirect table), publish it and return the
   * head plus the guest addresses of the buffers in order.
   */
  add(qi: number, bufs: TestBuffer[], opts: { indirect?: boolean } = {}): { head: number; addrs: number[] } {
    const q = this.queues[qi];
    const addrs = bufs.map((b) => {
      if ("data" in b) {
        const a = this.alloc(Math.max(b.data.length, 1));
        this.ram.u8.set(b.data, a - this.ram.base);
        return a;
      }
      return this.alloc(Math.max(b.writable, 1));
    });
    const flagsOf = (b: TestBuffer) => ("data" in b ? 0 : C.VIRTQ_DESC_F_WRITE);
    const lenOf = (b: TestBuffer) => ("data" in b ? b.data.length : b.writable);
    if (opts.indirect) {
      const table = this.alloc(16 * bufs.length, 16);
      bufs.forEach((b, i) => {
        const last = i === bufs.length - 1;
        this.writeDesc(
          table,
          i,
          addrs[i],
          lenOf(b),
          flagsOf(b) | (last ? 0 : C.VIRTQ_DESC_F_NEXT),
          last ? 0 : i + 1,
        );
      });
      const head = q.nextDesc;
      q.nextDesc = (q.nextDesc + 1) % q.size;
      this.writeDesc(q.desc, head, table, 16 * bufs.length, C.VIRTQ_DESC_F_INDIRECT, 0);
      this.publish(qi, head);
      return { head, addrs };
    }
    const idx = bufs.map(() => {
      const d = q.nextDesc;
      q.nextDesc = (q.nextDesc + 1) % q.size;
      return d;
    });
    bufs.forEach((b, i) => {
      const last = i === bufs.length - 1;
      this.writeDesc(
        q.desc,
        idx[i],
        addrs[i],
        lenOf(b),
        flagsOf(b) | (last ? 0 : C.VIRTQ_DESC_F_NEXT),
        last ? 0 : idx[i + 1],
      );
    });
    this.publish(qi, idx[0]);
    return { head: idx[0], addrs };
  }

  kick(qi: number): void {
    this.setReg(C.VIRTIO_MMIO_QUEUE_NOTIFY, qi);
  }

  /** Used elements published since the last call. */
  takeUsed(qi: number): UsedElem[] {
    const q = this.queues[qi];
    const v = this.ram.view;
    const idx = v.getUint16(q.used + 2 - this.ram.base, true);
    const out: UsedElem[] = [];
    while (q.lastUsed !== idx) {
      const e = q.used + 4 + 8 * (q.lastUsed % q.size) - this.ram.base;
      out.push({ id: v.getUint32(e, true), len: v.getUint32(e + 4, true) });
      q.lastUsed = (q.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /** Read and acknowledge the interrupt status. */
  ack(): number {
    const s = this.reg(C.VIRTIO_MMIO_INTERRUPT_STATUS);
    this.setReg(C.VIRTIO_MMIO_INTERRUPT_ACK, s);
    return s;
  }

  bytes(addr: number, len: number): Uint8Array {
    return this.ram.u8.slice(addr - this.ram.base, addr - this.ram.base + len);
  }

  needsReset(): boolean {
    return (this.reg(C.VIRTIO_MMIO_STATUS) & C.VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== 0;
  }
}
