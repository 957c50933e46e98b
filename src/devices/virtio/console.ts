/** The virtio console device (VIRTIO 1.2 §5.3) with a single port, over a CharBackend. */
/*
 * Usage: new VirtioConsole({ char: backend }) inside a VirtioMmioTransport. Linux gives the port the
 * next free hvc index: /dev/hvc1 when the SBI console (hvc_riscv_sbi) already holds hvc0.
 * With none of VIRTIO_CONSOLE_F_SIZE, F_MULTIPORT, F_EMERG_WRITE offered (§5.3.3) there are exactly two
 * queues (§5.3.2): 0 is receiveq (host → guest), 1 is transmitq (guest → host); no control queues.
 * Host input goes straight into posted receive buffers; what does not fit waits here (up to a bound)
 * and is delivered when the driver posts more.
 */
import { type SavedState, StateReader } from "../../base/state.js";
import type { CharBackend } from "../../io/char-backend.js";
import type { AccessSize } from "../../memory/mmio.js";
import { VIRTIO_ID_CONSOLE } from "./constants.js";
import { readConfigBytes, type VirtioDevice, type VirtioHost } from "./device.js";
import { serveQueue } from "./serve-queue.js";

const RECEIVEQ = 0;
const TRANSMITQ = 1;
/** Host input kept while the guest has no free receive buffers; more is dropped (there is no backpressure). */
const MAX_PENDING = 64 * 1024;
/** Output taken from one transmit buffer at most, and the piece size it is copied in. */
const MAX_TX_PER_CHAIN = 1024 * 1024;
const TX_CHUNK = 64 * 1024;
/** §5.3.4 struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr. */
const CONFIG_BYTES = 12;

export interface VirtioConsoleOptions {
  char: CharBackend;
  queueSize?: number;
}

/** virtio-console, single port. */
export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = CONFIG_BYTES;
  private readonly char: CharBackend;
  private readonly config = new Uint8Array(CONFIG_BYTES);
  private host: VirtioHost | null = null;
  /** Host input not yet delivered, oldest first; `pendingOffset` bytes of the first chunk are already sent. */
  private pending: Uint8Array[] = [];
  private pendingOffset = 0;
  private pendingBytes = 0;

  constructor(opts: VirtioConsoleOptions) {
    this.char = opts.char;
    const size = opts.queueSize ?? 128;
    this.queueMaxSizes = [size, size];
    this.char.onInput((data) => this.input(data));
  }

  /**
   * Queue host bytes for the guest. They go into the receive buffers the driver has posted first; only
   * what does not fit waits here, and only MAX_PENDING bytes of that (the newest are dropped). Bounding
   * the input before delivery would drop a large paste even when the guest has room for all of it.
   */
  input(data: Uint8Array): void {
    if (data.length === 0) return;
    this.pending.push(data.slice());
    this.pendingBytes += data.length;
    this.deliver();
    this.trimPending();
  }

  deviceFeatures(_bank: number): number {
    return 0;
  }
  readConfig(offset: number, size: AccessSize): number {
    return readConfigBytes(this.config, offset, size);
  }
  writeConfig(): void {}
  attach(host: VirtioHost): void {
    this.host = host;
  }
  activate(): void {
    this.deliver();
  }
  reset(): void {}

  notify(index: number): void {
    if (index === RECEIVEQ) this.deliver();
    else if (index === TRANSMITQ) this.transmit();
  }

  save(): SavedState {
    const total = this.pendingBytes - this.pendingOffset;
    const pending = new Uint8Array(total);
    let at = 0;
    this.pending.forEach((c, i) => {
      const part = i === 0 ? c.subarray(this.pendingOffset) : c;
      pending.set(part, at);
      at += part.length;
    });
    return { kind: "virtio-console", version: 1, pending };
  }

  /** Undelivered input is bounded as it is at run time (MAX_PENDING). */
  restore(state: SavedState): void {
    const r = new StateReader(state, "virtio-console", "virtio-console", 1);
    const p = r.typed("pending", Uint8Array, { max: MAX_PENDING });
    r.done();
    this.pending = p.length > 0 ? [p.slice()] : [];
    this.pendingOffset = 0;
    this.pendingBytes = p.length;
  }

  /** Drop the newest undelivered input beyond MAX_PENDING bytes. */
  private trimPending(): void {
    let excess = this.pendingBytes - this.pendingOffset - MAX_PENDING;
    while (excess > 0 && this.pending.length > 0) {
      const last = this.pending.length - 1;
      const tail = this.pending[last];
      const keepFrom = last === 0 ? this.pendingOffset : 0;
      const removable = tail.length - keepFrom;
      if (removable > excess) {
        this.pending[last] = tail.slice(0, tail.length - excess); // a copy, so a huge paste is not kept alive
        this.pendingBytes -= excess;
        excess = 0;
      } else {
        this.pending.pop();
        this.pendingBytes -= tail.length;
        if (last === 0) this.pendingOffset = 0;
        excess -= removable;
      }
    }
  }

  private transmit(): void {
    const host = this.host;
    if (host === null) return;
    serveQueue(host, TRANSMITQ, (chain) => {
      // A chain may claim up to 4 GiB (§2.7.8 lengths are 32-bit, and descriptors may alias the same
      // RAM), so it is copied out in bounded chunks and only its first MAX_TX_PER_CHAIN bytes are sent:
      // one hostile buffer must not make the host allocate gigabytes or stall the run loop.
      const total = Math.min(chain.readBytes, MAX_TX_PER_CHAIN);
      for (let at = 0; at < total; ) {
        const out = new Uint8Array(Math.min(TX_CHUNK, total - at));
        const n = chain.read(at, out);
        if (n === 0) break;
        this.char.write(n === out.length ? out : out.subarray(0, n));
        at += n;
      }
      return 0;
    });
  }

  /** Copy pending input into receive buffers (§5.3.6.1). */
  private deliver(): void {
    const host = this.host;
    if (host === null || !host.isActive() || this.pending.length === 0) return;
    try {
      const q = host.queue(RECEIVEQ);
      let used = false;
      while (this.pending.length > 0) {
        const chain = q.pop();
        if (chain === null) break;
        let written = 0;
        while (this.pending.length > 0 && written < chain.writeBytes) {
          const chunk = this.pending[0].subarray(this.pendingOffset);
          const n = chain.write(written, chunk);
          if (n === 0) break;
          written += n;
          this.pendingOffset += n;
          if (this.pendingOffset === this.pending[0].length) {
            this.pendingBytes -= this.pending[0].length;
            this.pending.shift();
            this.pendingOffset = 0;
          }
        }
        q.push(chain.head, written);
        used = true;
        if (written === 0) break; // a buffer with no writable space: stop rather than spin
      }
      if (used) host.usedBuffers(RECEIVEQ);
    } catch (e) {
      // Input arrives outside any MMIO access, so the transport's guard is not on the stack.
      host.fail(e instanceof Error ? e.message : String(e));
    }
  }
}
