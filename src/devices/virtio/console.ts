/** The virtio console device (VIRTIO 1.2 §5.3) with a single port, over a CharBackend. */
/*
 * Usage: new VirtioConsole({ char: backend }) inside a VirtioMmioTransport. Linux gives the port the
 * next free hvc index: /dev/hvc1 when the SBI console (hvc_riscv_sbi) already holds hvc0.
 * VIRTIO_CONSOLE_F_MULTIPORT is offered (§5.3.3) with max_nr_ports = 1, as QEMU's virtio-serial does, for
 * one reason: the port-open handshake. Linux posts the port's receive buffers before it marks the port
 * connected (drivers/char/virtio_console.c add_port, then init_port_console) and discards what arrives
 * in between, so input typed or piped before boot was lost. With multiport the driver says when the
 * console port is ready (VIRTIO_CONSOLE_PORT_OPEN, §5.3.6.2), and host input waits here until then,
 * as the board holds UART input until the UART driver takes it.
 * Queues (§5.3.2): 0 receiveq and 1 transmitq of port 0; with multiport also 2 control receiveq
 * (device → driver) and 3 control transmitq (driver → device). A driver without multiport uses 0 and 1
 * and gets input as soon as it posts buffers.
 * Host input goes into posted receive buffers; what does not fit waits here (up to a bound) and is
 * delivered when the driver posts more.
 */
import { type SavedState, StateReader } from "../../base/state.js";
import type { CharBackend } from "../../io/char-backend.js";
import type { AccessSize } from "../../memory/mmio.js";
import { VIRTIO_ID_CONSOLE } from "./constants.js";
import { readConfigBytes, type VirtioDevice, type VirtioHost } from "./device.js";
import { serveQueue } from "./serve-queue.js";

const RECEIVEQ = 0;
const TRANSMITQ = 1;
const CONTROL_RECEIVEQ = 2;
const CONTROL_TRANSMITQ = 3;
/** §5.3.3 feature bit. */
export const VIRTIO_CONSOLE_F_MULTIPORT = 1;
/** §5.3.6.2 control events (struct virtio_console_control: le32 id, le16 event, le16 value). */
export const VIRTIO_CONSOLE_DEVICE_READY = 0;
export const VIRTIO_CONSOLE_DEVICE_ADD = 1;
export const VIRTIO_CONSOLE_PORT_READY = 3;
export const VIRTIO_CONSOLE_CONSOLE_PORT = 4;
export const VIRTIO_CONSOLE_PORT_OPEN = 6;
const CONTROL_BYTES = 8;
/** Control messages the device may have queued for the driver: the handshake needs at most three. */
const MAX_CONTROL_OUT = 8;
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
  /** Multiport only: the driver opened port 0 (PORT_OPEN 1); input waits until then. */
  private portOpen = false;
  /** Multiport only: control messages for the driver, waiting for a control receive buffer. */
  private controlOut: Uint8Array[] = [];

  constructor(opts: VirtioConsoleOptions) {
    this.char = opts.char;
    const size = opts.queueSize ?? 128;
    this.queueMaxSizes = [size, size, size, size];
    // §5.3.4 max_nr_ports (offset 4), valid with F_MULTIPORT: one port.
    new DataView(this.config.buffer).setUint32(4, 1, true);
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

  deviceFeatures(bank: number): number {
    return bank === 0 ? 1 << VIRTIO_CONSOLE_F_MULTIPORT : 0;
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
  reset(): void {
    this.portOpen = false;
    this.controlOut = [];
  }

  notify(index: number): void {
    if (index === RECEIVEQ) this.deliver();
    else if (index === TRANSMITQ) this.transmit();
    else if (index === CONTROL_RECEIVEQ) this.flushControl();
    else if (index === CONTROL_TRANSMITQ) this.control();
  }

  /** Whether the driver negotiated multiport (so queues 2 and 3 and the port handshake are in use). */
  private get multiport(): boolean {
    return this.host?.hasFeature(VIRTIO_CONSOLE_F_MULTIPORT) ?? false;
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
    const controlOut = new Uint8Array(this.controlOut.length * CONTROL_BYTES);
    this.controlOut.forEach((m, i) => {
      controlOut.set(m, i * CONTROL_BYTES);
    });
    return { kind: "virtio-console", version: 2, pending, portOpen: this.portOpen, controlOut };
  }

  /** Undelivered input is bounded as it is at run time (MAX_PENDING). */
  restore(state: SavedState): void {
    // Version 1 predates multiport: its port was always open.
    const version = state.version === 1 ? 1 : 2;
    const r = new StateReader(state, "virtio-console", "virtio-console", version);
    const p = r.typed("pending", Uint8Array, { max: MAX_PENDING });
    const portOpen = version === 1 ? true : r.bool("portOpen");
    const out =
      version === 1
        ? new Uint8Array(0)
        : r.typed("controlOut", Uint8Array, { max: MAX_CONTROL_OUT * CONTROL_BYTES });
    if (out.length % CONTROL_BYTES !== 0)
      r.fail("controlOut", `not a whole number of ${CONTROL_BYTES}-byte messages`, out.length);
    r.done();
    this.portOpen = portOpen;
    this.controlOut = [];
    for (let at = 0; at < out.length; at += CONTROL_BYTES)
      this.controlOut.push(out.slice(at, at + CONTROL_BYTES));
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

  /**
   * Driver → device control messages (§5.3.6.2): DEVICE_READY is answered with DEVICE_ADD of port 0,
   * PORT_READY of port 0 with CONSOLE_PORT (the driver then makes it an hvc console) and our PORT_OPEN
   * (the host side is connected), and the driver's PORT_OPEN of port 0 opens or closes input.
   * Messages for other ports and other events are ignored, as the spec allows for unknown events.
   */
  private control(): void {
    const host = this.host;
    if (host === null || !this.multiport) return;
    serveQueue(host, CONTROL_TRANSMITQ, (chain) => {
      const msg = new Uint8Array(CONTROL_BYTES);
      if (chain.read(0, msg) < CONTROL_BYTES) return 0; // too short to be a message: dropped
      const dv = new DataView(msg.buffer);
      const id = dv.getUint32(0, true);
      const event = dv.getUint16(4, true);
      const value = dv.getUint16(6, true);
      if (event === VIRTIO_CONSOLE_DEVICE_READY && value === 1) {
        this.sendControl(0, VIRTIO_CONSOLE_DEVICE_ADD, 0);
      } else if (id === 0 && event === VIRTIO_CONSOLE_PORT_READY && value === 1) {
        this.sendControl(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
        this.sendControl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
      } else if (id === 0 && event === VIRTIO_CONSOLE_PORT_OPEN) {
        this.portOpen = value === 1;
      }
      return 0;
    });
    this.flushControl();
    this.deliver();
  }

  /** Queue a device → driver control message; a driver that never reads them cannot grow the queue. */
  private sendControl(id: number, event: number, value: number): void {
    if (this.controlOut.length >= MAX_CONTROL_OUT) return;
    const msg = new Uint8Array(CONTROL_BYTES);
    const dv = new DataView(msg.buffer);
    dv.setUint32(0, id, true);
    dv.setUint16(4, event, true);
    dv.setUint16(6, value, true);
    this.controlOut.push(msg);
  }

  /** Put queued control messages into the driver's control receive buffers. */
  private flushControl(): void {
    const host = this.host;
    if (host === null || !host.isActive() || !this.multiport || this.controlOut.length === 0) return;
    const q = host.queue(CONTROL_RECEIVEQ);
    let used = false;
    while (this.controlOut.length > 0) {
      const chain = q.pop();
      if (chain === null) break;
      used = true;
      if (chain.writeBytes < CONTROL_BYTES) {
        q.push(chain.head, 0); // too small for a message: returned empty, the message waits
        continue;
      }
      q.push(chain.head, chain.write(0, this.controlOut[0]));
      this.controlOut.shift();
    }
    if (used) host.usedBuffers(CONTROL_RECEIVEQ);
  }

  /** Copy pending input into receive buffers (§5.3.6.1), once the port is open (see the file comment). */
  private deliver(): void {
    const host = this.host;
    if (host === null || !host.isActive() || this.pending.length === 0) return;
    if (this.multiport && !this.portOpen) return;
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
