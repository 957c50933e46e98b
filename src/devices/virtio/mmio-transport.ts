/** The virtio-mmio transport, version 2 ("modern"), as specified in VIRTIO 1.2 §4.2.2. */
/*
 * Usage (machine wiring, one slot per device at 0x10001000 + n*0x1000, IRQ 1 + n):
 *   const blk = new VirtioBlock({ backend });
 *   const t = new VirtioMmioTransport({ device: blk, ram, irq: plic.line(1 + n) });
 *   bus.map(0x10001000 + n * 0x1000, VIRTIO_MMIO_SIZE, t);
 * FDT: compatible "virtio,mmio", reg <base 0x1000>, interrupts <1+n>.
 *
 * The transport owns the registers, feature negotiation, the virtqueues' placement and the
 * interrupt status; the device (VirtioDevice) owns its configuration space and queue processing.
 * Nothing the driver writes can throw out of read()/write(): device errors set DEVICE_NEEDS_RESET.
 */

import { restoring, type SavedState, type Stateful, StateReader } from "../../base/state.js";
import { TWO_POW_32 } from "../../base/u64.js";
import type { GuestRam } from "../../memory/guest-ram.js";
import type { AccessSize, MmioDevice } from "../../memory/mmio.js";
import type { IrqLine } from "../irq.js";
import * as C from "./constants.js";
import type { VirtioDevice, VirtioHost } from "./device.js";

/** The device status bits virtio 1.2 §2.1 defines. */
const DEFINED_STATUS_BITS =
  C.VIRTIO_STATUS_ACKNOWLEDGE |
  C.VIRTIO_STATUS_DRIVER |
  C.VIRTIO_STATUS_DRIVER_OK |
  C.VIRTIO_STATUS_FEATURES_OK |
  C.VIRTIO_STATUS_DEVICE_NEEDS_RESET |
  C.VIRTIO_STATUS_FAILED;

import { Virtqueue } from "./queue.js";

export const VIRTIO_MMIO_BASE = 0x10001000;
export const VIRTIO_MMIO_STRIDE = 0x1000;
export const VIRTIO_MMIO_SIZE = 0x1000;
/** QEMU's virt board has 8 virtio-mmio slots, on PLIC sources 1..8. */
export const VIRTIO_MMIO_SLOTS = 8;
export const VIRTIO_MMIO_FIRST_IRQ = 1;

export interface VirtioMmioOptions {
  device: VirtioDevice;
  ram: GuestRam;
  irq: IrqLine;
  name?: string;
  /** Called with the reason whenever the device enters DEVICE_NEEDS_RESET (for logs). */
  onError?: (reason: string) => void;
}

/** One virtio-mmio register window carrying one device. */
export class VirtioMmioTransport implements MmioDevice, Stateful, VirtioHost {
  readonly name: string;
  readonly ram: GuestRam;
  readonly device: VirtioDevice;
  private readonly irq: IrqLine;
  private readonly onError: ((reason: string) => void) | undefined;
  private readonly queues: Virtqueue[];
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private readonly driverFeatures = new Uint32Array(2);
  private readonly acked = new Uint32Array(2);
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private irqLevel = false;
  /** Why the device last entered DEVICE_NEEDS_RESET, for diagnostics. */
  lastError: string | null = null;

  constructor(opts: VirtioMmioOptions) {
    this.device = opts.device;
    this.ram = opts.ram;
    this.irq = opts.irq;
    this.onError = opts.onError;
    this.name = opts.name ?? `virtio-mmio(${opts.device.deviceId})`;
    this.queues = opts.device.queueMaxSizes.map((max) => new Virtqueue(opts.ram, max));
    this.device.attach(this);
  }

  // ---- VirtioHost ----

  queue(index: number): Virtqueue {
    return this.queues[index];
  }

  hasFeature(bit: number): boolean {
    return ((this.acked[bit >>> 5] >>> (bit & 31)) & 1) === 1;
  }

  isActive(): boolean {
    return (
      (this.status & (C.VIRTIO_STATUS_DRIVER_OK | C.VIRTIO_STATUS_DEVICE_NEEDS_RESET)) ===
      C.VIRTIO_STATUS_DRIVER_OK
    );
  }

  usedBuffers(index: number): void {
    const q = this.queues[index];
    if (q === undefined) return;
    let notify = false;
    try {
      notify = q.shouldNotify();
    } catch (e) {
      this.fail(e instanceof Error ? e.message : String(e));
      return;
    }
    if (notify) this.raise(C.VIRTIO_MMIO_INT_VRING);
  }

  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & C.VIRTIO_STATUS_DRIVER_OK) this.raise(C.VIRTIO_MMIO_INT_CONFIG);
  }

  fail(reason: string): void {
    this.lastError = reason;
    this.onError?.(reason);
    if (this.status & C.VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= C.VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    // §2.1.2: a device entering DEVICE_NEEDS_RESET sends a configuration change notification.
    if (this.status & C.VIRTIO_STATUS_DRIVER_OK) this.raise(C.VIRTIO_MMIO_INT_CONFIG);
  }

  // ---- MMIO ----

  read(offset: number, size: AccessSize): number {
    if (offset >= C.VIRTIO_MMIO_CONFIG) {
      const rel = offset - C.VIRTIO_MMIO_CONFIG;
      if (rel + size > this.device.configSize) return 0;
      return this.guard(() => this.device.readConfig(rel, size), 0) >>> 0;
    }
    // §4.2.2.2: the driver uses 32-bit accesses for the control registers.
    if (size !== 4) return 0;
    const q = this.queues[this.queueSel];
    switch (offset) {
      case C.VIRTIO_MMIO_MAGIC_VALUE:
        return C.VIRTIO_MMIO_MAGIC;
      case C.VIRTIO_MMIO_VERSION:
        return 2;
      case C.VIRTIO_MMIO_DEVICE_ID:
        return this.device.deviceId;
      case C.VIRTIO_MMIO_VENDOR_ID:
        return C.VIRTIO_MMIO_VENDOR_QEMU;
      case C.VIRTIO_MMIO_DEVICE_FEATURES:
        return this.offered(this.deviceFeaturesSel);
      case C.VIRTIO_MMIO_QUEUE_NUM_MAX:
        // 0 tells the driver the queue does not exist (§4.2.3.2).
        return q === undefined ? 0 : q.maxSize;
      case C.VIRTIO_MMIO_QUEUE_READY:
        return q?.ready ? 1 : 0;
      case C.VIRTIO_MMIO_INTERRUPT_STATUS:
        return this.interruptStatus;
      case C.VIRTIO_MMIO_STATUS:
        return this.status;
      case C.VIRTIO_MMIO_QUEUE_NUM:
        return q === undefined ? 0 : q.size;
      case C.VIRTIO_MMIO_QUEUE_DESC_LOW:
        return q === undefined ? 0 : q.descAddr % TWO_POW_32;
      case C.VIRTIO_MMIO_QUEUE_DESC_HIGH:
        return q === undefined ? 0 : Math.floor(q.descAddr / TWO_POW_32);
      case C.VIRTIO_MMIO_QUEUE_DRIVER_LOW:
        return q === undefined ? 0 : q.driverAddr % TWO_POW_32;
      case C.VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
        return q === undefined ? 0 : Math.floor(q.driverAddr / TWO_POW_32);
      case C.VIRTIO_MMIO_QUEUE_DEVICE_LOW:
        return q === undefined ? 0 : q.deviceAddr % TWO_POW_32;
      case C.VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        return q === undefined ? 0 : Math.floor(q.deviceAddr / TWO_POW_32);
      case C.VIRTIO_MMIO_SHM_LEN_LOW:
      case C.VIRTIO_MMIO_SHM_LEN_HIGH:
        // No shared memory regions: length all ones means "does not exist" (§4.2.2).
        return 0xffffffff;
      case C.VIRTIO_MMIO_CONFIG_GENERATION:
        return this.configGeneration;
      default:
        return 0;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset >= C.VIRTIO_MMIO_CONFIG) {
      const rel = offset - C.VIRTIO_MMIO_CONFIG;
      if (rel + size > this.device.configSize) return;
      this.guard(() => this.device.writeConfig(rel, size, value), undefined);
      return;
    }
    if (size !== 4) return;
    value >>>= 0;
    const q = this.queues[this.queueSel];
    switch (offset) {
      case C.VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        this.deviceFeaturesSel = value;
        return;
      case C.VIRTIO_MMIO_DRIVER_FEATURES:
        // §3.1.1: features are fixed once FEATURES_OK is set.
        if (this.driverFeaturesSel < 2 && !(this.status & C.VIRTIO_STATUS_FEATURES_OK)) {
          this.driverFeatures[this.driverFeaturesSel] = value;
        }
        return;
      case C.VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        this.driverFeaturesSel = value;
        return;
      case C.VIRTIO_MMIO_QUEUE_SEL:
        this.queueSel = value;
        return;
      case C.VIRTIO_MMIO_QUEUE_NUM:
        if (q !== undefined && !q.ready) q.size = value;
        return;
      case C.VIRTIO_MMIO_QUEUE_READY:
        if (q === undefined) return;
        if ((value & 1) === 0) {
          q.ready = false;
          return;
        }
        if (q.ready) return;
        this.makeReady(q);
        return;
      case C.VIRTIO_MMIO_QUEUE_NOTIFY:
        this.notify(value & 0xffff);
        return;
      case C.VIRTIO_MMIO_INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        this.updateIrq();
        return;
      case C.VIRTIO_MMIO_STATUS:
        // virtio 1.2 §2.1 defines six status bits; the others are reserved, so they are not kept (and a
        // saved status therefore always passes restore's check).
        this.writeStatus(value & DEFINED_STATUS_BITS);
        return;
      case C.VIRTIO_MMIO_QUEUE_DESC_LOW:
      case C.VIRTIO_MMIO_QUEUE_DESC_HIGH:
      case C.VIRTIO_MMIO_QUEUE_DRIVER_LOW:
      case C.VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
      case C.VIRTIO_MMIO_QUEUE_DEVICE_LOW:
      case C.VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        if (q !== undefined && !q.ready) setAddressHalf(q, offset, value);
        return;
      default:
        return;
    }
  }

  // ---- save/restore ----

  save(): SavedState {
    return {
      kind: "virtio-mmio",
      version: 1,
      deviceId: this.device.deviceId,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeatures.slice(),
      acked: this.acked.slice(),
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      queues: this.queues.map((q) => q.save()),
      device: this.device.save(),
    };
  }

  /**
   * Restore the transport, its queues and its device. The state is untrusted: every field is checked
   * (status bits of §2.1, accepted features within those offered, queue layouts inside RAM) and the
   * device checks its own, before anything here changes.
   */
  restore(state: SavedState): void {
    const r = new StateReader(state, "virtio-mmio", "virtio-mmio", 1);
    const deviceId = r.int("deviceId", 0, 0xffffffff);
    if (deviceId !== this.device.deviceId)
      r.fail(
        "deviceId",
        `this slot holds device type ${this.device.deviceId}, the state ${deviceId}`,
        deviceId,
      );
    const status = r.int("status", 0, 0xff);
    if ((status & ~DEFINED_STATUS_BITS) !== 0)
      r.fail("status", `undefined status bits 0x${status.toString(16)}`, status);
    const deviceFeaturesSel = r.u32("deviceFeaturesSel");
    const driverFeaturesSel = r.u32("driverFeaturesSel");
    const driverFeatures = r.typed("driverFeatures", Uint32Array, 2);
    const acked = r.typed("acked", Uint32Array, 2);
    for (let bank = 0; bank < 2; bank++) {
      if ((acked[bank] & ~this.offered(bank)) !== 0)
        r.fail(`acked[${bank}]`, "accepts features the device does not offer", acked[bank]);
    }
    const queueSel = r.u32("queueSel");
    const interruptStatus = r.int("interruptStatus", 0, 3);
    const configGeneration = r.u32("configGeneration");
    const queueStates = r.array("queues", this.queues.length);
    const queues = queueStates.map((qs, i) => restoring(`queue${i}`, () => this.queues[i].check(qs)));
    const device = r.nested("device");
    r.done();
    // The device checks its state before it changes anything; then the transport takes its own.
    // Its StateReader refuses anything that is not a state object.
    restoring("device", () => this.device.restore(device as SavedState));
    this.status = status;
    this.deviceFeaturesSel = deviceFeaturesSel;
    this.driverFeaturesSel = driverFeaturesSel;
    this.driverFeatures.set(driverFeatures);
    this.acked.set(acked);
    this.queueSel = queueSel;
    this.interruptStatus = interruptStatus;
    this.configGeneration = configGeneration;
    queues.forEach((snap, i) => {
      const q = this.queues[i];
      q.apply(snap);
      q.indirect = this.hasFeature(C.VIRTIO_RING_F_INDIRECT_DESC);
      q.eventIdx = this.hasFeature(C.VIRTIO_RING_F_EVENT_IDX);
    });
    this.irqLevel = this.interruptStatus !== 0;
    this.irq.set(this.irqLevel);
  }

  // ---- internals ----

  /** Feature bank as offered: device bits plus the transport's ring and version bits (§6). */
  private offered(bank: number): number {
    if (bank > 1) return 0;
    let v = this.device.deviceFeatures(bank);
    if (bank === 0) v |= (1 << C.VIRTIO_RING_F_INDIRECT_DESC) | (1 << C.VIRTIO_RING_F_EVENT_IDX);
    else v |= 1 << (C.VIRTIO_F_VERSION_1 - 32);
    return v >>> 0;
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
    }
    const before = this.status;
    let next = value | (before & C.VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    if (next & C.VIRTIO_STATUS_FEATURES_OK && !(before & C.VIRTIO_STATUS_FEATURES_OK)) {
      // §3.1.1 step 5-6: accept only a subset of what was offered, and only modern drivers (§4.2.3.1:
      // a version-2 device requires VIRTIO_F_VERSION_1). Otherwise FEATURES_OK does not stick.
      const lo = this.driverFeatures[0];
      const hi = this.driverFeatures[1];
      const ok =
        (lo & ~this.offered(0)) === 0 &&
        (hi & ~this.offered(1)) === 0 &&
        (hi & (1 << (C.VIRTIO_F_VERSION_1 - 32))) !== 0;
      if (ok) {
        this.acked[0] = lo;
        this.acked[1] = hi;
        for (const q of this.queues) {
          q.indirect = this.hasFeature(C.VIRTIO_RING_F_INDIRECT_DESC);
          q.eventIdx = this.hasFeature(C.VIRTIO_RING_F_EVENT_IDX);
        }
      } else {
        next &= ~C.VIRTIO_STATUS_FEATURES_OK;
      }
    }
    if (next & C.VIRTIO_STATUS_DRIVER_OK && !(next & C.VIRTIO_STATUS_FEATURES_OK)) {
      // DRIVER_OK without negotiated features is a driver bug; refuse to go live.
      next &= ~C.VIRTIO_STATUS_DRIVER_OK;
      this.status = next;
      this.fail("DRIVER_OK before FEATURES_OK");
      return;
    }
    this.status = next;
    if (next & C.VIRTIO_STATUS_DRIVER_OK && !(before & C.VIRTIO_STATUS_DRIVER_OK)) {
      this.guard(() => this.device.activate(), undefined);
    }
  }

  private reset(): void {
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures.fill(0);
    this.acked.fill(0);
    this.queueSel = 0;
    this.interruptStatus = 0;
    this.lastError = null;
    for (const q of this.queues) q.reset();
    this.guard(() => this.device.reset(), undefined);
    this.updateIrq();
  }

  private makeReady(q: Virtqueue): void {
    const problem = q.validateLayout();
    if (problem !== null) {
      this.fail(problem);
      return;
    }
    q.ready = true;
    q.lastAvailIdx = 0;
    q.usedIdx = 0;
  }

  private notify(index: number): void {
    const q = this.queues[index];
    if (q === undefined || !q.ready || !this.isActive()) return;
    this.guard(() => this.device.notify(index), undefined);
  }

  /** Run device code; anything it throws marks the device broken instead of escaping the MMIO access. */
  private guard<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (e) {
      this.fail(e instanceof Error ? e.message : String(e));
      return fallback;
    }
  }

  private raise(bit: number): void {
    this.interruptStatus |= bit;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}

function setAddressHalf(q: Virtqueue, offset: number, value: number): void {
  const high = (offset & 4) !== 0;
  const merge = (old: number): number => {
    const lo = old % TWO_POW_32;
    const hi = Math.floor(old / TWO_POW_32);
    return high ? value * TWO_POW_32 + lo : hi * TWO_POW_32 + value;
  };
  switch (offset & ~4) {
    case C.VIRTIO_MMIO_QUEUE_DESC_LOW:
      q.descAddr = merge(q.descAddr);
      return;
    case C.VIRTIO_MMIO_QUEUE_DRIVER_LOW:
      q.driverAddr = merge(q.driverAddr);
      return;
    case C.VIRTIO_MMIO_QUEUE_DEVICE_LOW:
      q.deviceAddr = merge(q.deviceAddr);
      return;
  }
}
