/** The virtio entropy device (VIRTIO 1.2 §5.4), filling driver buffers from an injected entropy source. */
/*
 * Usage: new VirtioRng({ entropy: nodeEntropy })   // nodeEntropy from ./node/entropy.js
 * The source is a function so core code never imports node:crypto (browser hosts pass
 * crypto.getRandomValues-based code).
 */
import { type SavedState, StateReader } from "../../base/state.js";
import type { AccessSize } from "../../memory/mmio.js";
import { VIRTIO_ID_RNG } from "./constants.js";
import type { VirtioDevice, VirtioHost } from "./device.js";
import { serveQueue } from "./serve-queue.js";

/** Fills `buf` with random bytes. */
export type EntropySource = (buf: Uint8Array) => void;

/** Bytes handed out per request at most, so one huge buffer cannot stall the machine. */
const MAX_PER_REQUEST = 64 * 1024;

export interface VirtioRngOptions {
  entropy: EntropySource;
  queueSize?: number;
}

/** virtio-rng: one request queue; each device-writable buffer is filled with entropy. */
export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = 0;
  private readonly entropy: EntropySource;
  private readonly scratch = new Uint8Array(4096);
  private host: VirtioHost | null = null;

  constructor(opts: VirtioRngOptions) {
    this.entropy = opts.entropy;
    this.queueMaxSizes = [opts.queueSize ?? 64];
  }

  deviceFeatures(_bank: number): number {
    return 0;
  }
  readConfig(_offset: number, _size: AccessSize): number {
    return 0;
  }
  writeConfig(_offset: number, _size: AccessSize, _value: number): void {}
  attach(host: VirtioHost): void {
    this.host = host;
  }
  activate(): void {}
  reset(): void {}

  notify(index: number): void {
    const host = this.host;
    if (host === null || index !== 0) return;
    serveQueue(host, 0, (chain) => {
      // §5.4.6.1: the device writes into device-writable buffers only; readable ones are ignored.
      const total = Math.min(chain.writeBytes, MAX_PER_REQUEST);
      let done = 0;
      while (done < total) {
        const part = this.scratch.subarray(0, Math.min(this.scratch.length, total - done));
        this.entropy(part);
        const n = chain.write(done, part);
        if (n === 0) break;
        done += n;
      }
      return total;
    });
  }

  save(): SavedState {
    return { kind: "virtio-rng", version: 1 };
  }

  restore(state: SavedState): void {
    // Stateless: only the kind and version, and no unknown fields.
    new StateReader(state, "virtio-rng", "virtio-rng", 1).done();
  }
}
