/** The contract between a virtio transport and a virtio device model (VIRTIO 1.2 §2 "Basic Facilities"). */
import { type SavedState, StateError, type Stateful, type StateValue } from "../../base/state.js";
import type { GuestRam } from "../../memory/guest-ram.js";
import type { AccessSize } from "../../memory/mmio.js";
import type { Virtqueue } from "./queue.js";

/** What a transport offers the device it carries. */
export interface VirtioHost {
  readonly ram: GuestRam;
  /** The device's queue `index` (created by the transport from `queueMaxSizes`). */
  queue(index: number): Virtqueue;
  /** True when the driver accepted feature `bit` (valid after FEATURES_OK). */
  hasFeature(bit: number): boolean;
  /** True after DRIVER_OK and until reset or DEVICE_NEEDS_RESET: queues may be processed. */
  isActive(): boolean;
  /** The device put buffers in queue `index`'s used ring: interrupt unless the driver suppressed it. */
  usedBuffers(index: number): void;
  /** The device configuration changed (§2.5.1): bumps ConfigGeneration and interrupts. */
  configChanged(): void;
  /** The driver misused the device (§2.1.2): set DEVICE_NEEDS_RESET and stop processing. */
  fail(reason: string): void;
}

/**
 * A virtio device model, independent of the transport and of host backends. Calls into the device
 * from the transport are wrapped so a thrown error (e.g. VirtqueueError) becomes DEVICE_NEEDS_RESET.
 * Devices that complete work asynchronously must route such errors to `host.fail` themselves.
 */
export interface VirtioDevice extends Stateful {
  /** §5 device ID. */
  readonly deviceId: number;
  /** Maximum size of each virtqueue; its length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Size in bytes of the device-specific configuration space. */
  readonly configSize: number;
  /**
   * Device-specific feature bits of bank 0 (bits 0..31) or 1 (bits 32..63). The transport adds
   * VIRTIO_F_VERSION_1, VIRTIO_RING_F_INDIRECT_DESC and VIRTIO_RING_F_EVENT_IDX itself.
   */
  deviceFeatures(bank: number): number;
  readConfig(offset: number, size: AccessSize): number;
  writeConfig(offset: number, size: AccessSize, value: number): void;
  /** Called once by the transport's constructor. */
  attach(host: VirtioHost): void;
  /** The driver set DRIVER_OK: queues are live. */
  activate(): void;
  /** The driver notified queue `index` (§4.2.3.3 QueueNotify). */
  notify(index: number): void;
  /** Device reset (§2.4): forget in-flight work and return to the initial state. */
  reset(): void;
}

/** Read a little-endian field of `size` bytes from a config-space byte image; bytes past the end read 0. */
export function readConfigBytes(config: Uint8Array, offset: number, size: AccessSize): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) {
    const o = offset + i;
    v = v * 256 + (o < config.length ? config[o] : 0);
  }
  return v >>> 0;
}

/** Narrow a nested StateValue back to a SavedState (for device states stored inside a transport's). */
export function asSavedState(v: StateValue | undefined, what: string): SavedState {
  if (
    v === null ||
    v === undefined ||
    typeof v !== "object" ||
    Array.isArray(v) ||
    ArrayBuffer.isView(v) ||
    typeof v.kind !== "string" ||
    typeof v.version !== "number"
  ) {
    throw new StateError(what, "", "malformed state");
  }
  return v as SavedState;
}
