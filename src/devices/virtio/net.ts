/** The virtio network device (VIRTIO 1.2 §5.1), one queue pair, exchanging Ethernet frames with a NetBackend. */
/*
 * Usage: new VirtioNet({ backend, mac: Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56) }).
 * Queue 0 is receiveq1, queue 1 is transmitq1. Offered: VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS
 * (link up) and VIRTIO_NET_F_MRG_RXBUF; no checksum or segmentation offloads, so every
 * virtio_net_hdr is all zero except num_buffers. With VIRTIO_F_VERSION_1 (which the transport
 * requires) the header is always 12 bytes (§5.1.6).
 *
 * Why MRG_RXBUF: without it a frame must fit one receive buffer, and Linux then posts buffers of
 * 1518 bytes + header whatever MTU the user sets later (it offers up to 65535 when
 * VIRTIO_NET_F_MTU is absent), so `ip link set eth0 mtu 9000` silently lost every large frame.
 * Merging spreads a frame over as many buffers as it needs (§5.1.6.3.2), as QEMU does by default.
 */
import { errorMessage } from "../../base/errors.js";
import { type SavedState, StateReader } from "../../base/state.js";
import type { NetBackend } from "../../io/net-backend.js";
import type { AccessSize } from "../../memory/mmio.js";
import { VIRTIO_ID_NET } from "./constants.js";
import { readConfigBytes, type VirtioDevice, type VirtioHost } from "./device.js";
import type { DescriptorChain, Virtqueue } from "./queue.js";
import { serveQueue } from "./serve-queue.js";

export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;
/** §5.1.6: struct virtio_net_hdr with num_buffers (virtio_net_hdr_v1). */
export const VIRTIO_NET_HDR_BYTES = 12;

const RECEIVEQ = 0;
const TRANSMITQ = 1;
/** Frames kept while the guest has no receive buffers; older traffic beyond this is dropped, as a NIC would. */
const MAX_PENDING_FRAMES = 256;
/**
 * Largest frame carried either way (no GSO offered): Ethernet header + 802.1Q tag + the largest MTU
 * a driver can pick (Linux ETH_MAX_MTU 65535). Bigger ones are dropped, which also bounds what
 * MAX_PENDING_FRAMES can hold.
 */
export const MAX_FRAME = 14 + 4 + 65535;
/** §5.1.4 struct virtio_net_config: mac[6], status, max_virtqueue_pairs, mtu. */
const CONFIG_BYTES = 12;

export interface VirtioNetOptions {
  backend: NetBackend;
  mac: Uint8Array;
  queueSize?: number;
}

/** virtio-net with one rx/tx queue pair. */
export class VirtioNet implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_NET;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = CONFIG_BYTES;
  private readonly backend: NetBackend;
  private readonly config = new Uint8Array(CONFIG_BYTES);
  private readonly rxHeader = new Uint8Array(VIRTIO_NET_HDR_BYTES);
  private host: VirtioHost | null = null;
  private pending: Uint8Array[] = [];
  private linkUp = true;
  private readonly link: { nic: VirtioNet | null };
  /** Counters for diagnostics. */
  rxDropped = 0;
  txFrames = 0;
  rxFrames = 0;

  constructor(opts: VirtioNetOptions) {
    if (opts.mac.length !== 6) throw new Error("virtio-net MAC must be 6 bytes");
    this.backend = opts.backend;
    const size = opts.queueSize ?? 256;
    this.queueMaxSizes = [size, size];
    this.config.set(opts.mac, 0);
    this.writeStatus();
    // The backend outlives the device (reboots build a new one on it), so it holds only this small
    // box: detach() empties it and the backend no longer keeps the device and guest RAM alive.
    const link: { nic: VirtioNet | null } = { nic: this };
    this.link = link;
    this.backend.onReceive((frame) => link.nic?.receive(frame));
  }

  /**
   * Stop taking frames from the backend (the VM closed). Unlike registering another handler, this
   * leaves alone a newer device that has since taken the backend over (a restored VM).
   */
  detach(): void {
    this.link.nic = null;
  }

  get mac(): Uint8Array {
    return this.config.slice(0, 6);
  }

  /** Change the link state reported in config `status` (§5.1.4) and tell the driver. */
  setLinkUp(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.writeStatus();
    this.host?.configChanged();
  }

  /** A frame from the backend for the guest. */
  receive(frame: Uint8Array): void {
    const host = this.host;
    if (host === null || !host.isActive() || !this.linkUp || frame.length > MAX_FRAME) {
      this.rxDropped++;
      return;
    }
    if (this.pending.length >= MAX_PENDING_FRAMES) {
      this.rxDropped++;
      return;
    }
    this.pending.push(frame.slice());
    this.deliver();
  }

  deviceFeatures(bank: number): number {
    return bank === 0
      ? (1 << VIRTIO_NET_F_MAC) | (1 << VIRTIO_NET_F_MRG_RXBUF) | (1 << VIRTIO_NET_F_STATUS)
      : 0;
  }
  readConfig(offset: number, size: AccessSize): number {
    return readConfigBytes(this.config, offset, size);
  }
  writeConfig(): void {
    // §5.1.4: the MAC is writable only for legacy drivers without VIRTIO_NET_F_CTRL_MAC_ADDR; ignore.
  }
  attach(host: VirtioHost): void {
    this.host = host;
  }
  activate(): void {}
  reset(): void {
    this.pending = [];
  }

  notify(index: number): void {
    if (index === RECEIVEQ) this.deliver();
    else if (index === TRANSMITQ) this.transmit();
  }

  save(): SavedState {
    return {
      kind: "virtio-net",
      version: 1,
      mac: this.config.slice(0, 6),
      linkUp: this.linkUp,
    };
  }

  /** The MAC must be a unicast address (IEEE 802: group bit clear); checked before anything changes. */
  restore(state: SavedState): void {
    const r = new StateReader(state, "virtio-net", "virtio-net", 1);
    const mac = r.typed("mac", Uint8Array, 6);
    if ((mac[0] & 1) !== 0) r.fail("mac", "a multicast address", Array.from(mac));
    const linkUp = r.bool("linkUp");
    r.done();
    this.config.set(mac, 0);
    this.linkUp = linkUp;
    this.writeStatus();
    // Frames in transit are not part of the machine state; networks lose packets.
    this.pending = [];
  }

  private writeStatus(): void {
    new DataView(this.config.buffer).setUint16(6, this.linkUp ? VIRTIO_NET_S_LINK_UP : 0, true);
  }

  private transmit(): void {
    const host = this.host;
    if (host === null) return;
    serveQueue(host, TRANSMITQ, (chain) => {
      const len = chain.readBytes - VIRTIO_NET_HDR_BYTES;
      // §5.1.6.2: header then frame, all device-readable. Runts and giants are dropped.
      if (len > 0 && len <= MAX_FRAME && this.linkUp) {
        const frame = new Uint8Array(len);
        chain.read(VIRTIO_NET_HDR_BYTES, frame);
        this.txFrames++;
        this.backend.send(frame);
      }
      return 0;
    });
  }

  /** Fill receive buffers with pending frames (§5.1.6.3), in order; a frame waits until buffers for it exist. */
  private deliver(): void {
    const host = this.host;
    if (host === null || !host.isActive() || this.pending.length === 0) return;
    try {
      const q = host.queue(RECEIVEQ);
      const mergeable = host.hasFeature(VIRTIO_NET_F_MRG_RXBUF);
      let used = false;
      while (this.pending.length > 0) {
        const frame = this.pending[0];
        const r = mergeable ? this.fillMerged(q, frame) : this.fillOne(q, frame);
        if (r === "wait") break;
        this.pending.shift();
        if (r === "dropped") this.rxDropped++;
        else {
          this.rxFrames++;
          used = true;
        }
      }
      if (used) host.usedBuffers(RECEIVEQ);
    } catch (e) {
      // Frames arrive outside any MMIO access, so the transport's guard is not on the stack.
      host.fail(errorMessage(e));
    }
  }

  /** Without MRG_RXBUF: the whole header + frame in one chain, num_buffers = 1 (§5.1.6.3.1). */
  private fillOne(q: Virtqueue, frame: Uint8Array): Fill {
    const chain = q.pop();
    if (chain === null) return "wait";
    if (chain.writeBytes < VIRTIO_NET_HDR_BYTES + frame.length) {
      // Too big for the buffers this driver posts: drop the frame, keep the buffer for the next one.
      q.unpop();
      return "dropped";
    }
    this.setNumBuffers(1);
    chain.write(0, this.rxHeader);
    chain.write(VIRTIO_NET_HDR_BYTES, frame);
    q.push(chain.head, VIRTIO_NET_HDR_BYTES + frame.length);
    return "delivered";
  }

  /**
   * With MRG_RXBUF (§5.1.6.3.2): take chains until header + frame fit, then fill them in order and
   * put num_buffers (the chain count) in the first header. Nothing is used until all are at hand.
   */
  private fillMerged(q: Virtqueue, frame: Uint8Array): Fill {
    const total = VIRTIO_NET_HDR_BYTES + frame.length;
    const chains: DescriptorChain[] = [];
    let room = 0;
    while (room < total) {
      const c = q.pop();
      if (c === null) break;
      chains.push(c);
      room += c.writeBytes;
    }
    if (room < total) {
      for (let i = 0; i < chains.length; i++) q.unpop();
      // A whole ring of buffers that cannot hold the frame never will: drop it rather than stall
      // every later frame behind it. Otherwise wait for the driver to post more (it notifies).
      return chains.length >= q.size ? "dropped" : "wait";
    }
    this.setNumBuffers(chains.length);
    const packet = new Uint8Array(total);
    packet.set(this.rxHeader, 0);
    packet.set(frame, VIRTIO_NET_HDR_BYTES);
    let off = 0;
    for (const c of chains) {
      const n = Math.min(c.writeBytes, total - off);
      c.write(0, packet.subarray(off, off + n));
      q.push(c.head, n);
      off += n;
    }
    return "delivered";
  }

  /** §5.1.6: num_buffers is the le16 at offset 10 of virtio_net_hdr. */
  private setNumBuffers(n: number): void {
    new DataView(this.rxHeader.buffer).setUint16(10, n, true);
  }
}

/** Outcome of placing one frame in the receive queue. */
type Fill = "delivered" | "dropped" | "wait";
