/** The virtio network device (VIRTIO 1.2 §5.1), one queue pair, exchanging Ethernet frames with a NetBackend. */
/*
 * Usage: new VirtioNet({ backend, mac: Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56) }).
 * Queue 0 is receiveq1, queue 1 is transmitq1. Offered: VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS
 * (link up), VIRTIO_NET_F_MRG_RXBUF, and the checksum and TCP segmentation offloads CSUM, GUEST_CSUM,
 * HOST_TSO4 and HOST_TSO6, which the device carries out itself before frames reach the backend
 * (net-offload.ts says what and why). With VIRTIO_F_VERSION_1 (which the transport requires) the
 * header is always 12 bytes (§5.1.6).
 *
 * Why MRG_RXBUF: without it a frame must fit one receive buffer, and Linux then posts buffers of
 * 1518 bytes + header whatever MTU the user sets later (it offers up to 65535 when
 * VIRTIO_NET_F_MTU is absent), so `ip link set eth0 mtu 9000` silently lost every large frame.
 * Merging spreads a frame over as many buffers as it needs (§5.1.6.3.2), as QEMU does by default.
 */
import { errorMessage } from "../../base/errors.js";
import { type SavedState, StateReader } from "../../base/state.js";
import { type NetBackend, type NetCounters, newNetCounters } from "../../io/net-backend.js";
import type { AccessSize } from "../../memory/mmio.js";
import { VIRTIO_ID_NET } from "./constants.js";
import { readConfigBytes, type VirtioDevice, type VirtioHost } from "./device.js";
import {
  framesToSend,
  NET_OFFLOAD_FEATURES,
  type NegotiatedOffloads,
  newOffloadCounters,
  type OffloadCounters,
  receiveFlags,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
} from "./net-offload.js";
import type { DescriptorChain, Virtqueue } from "./queue.js";

export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;
/** §5.1.6: struct virtio_net_hdr with num_buffers (virtio_net_hdr_v1). */
export const VIRTIO_NET_HDR_BYTES = 12;

const RECEIVEQ = 0;
const TRANSMITQ = 1;
/** Frames kept while the guest has no receive buffers; beyond this they are dropped (and counted), as a NIC would. */
const MAX_PENDING_FRAMES = 256;
/**
 * Flow control (QEMU's virtio_net_can_receive): a backend that asks is told "no" once this many frames
 * wait for receive buffers, holds its own, and is resumed when the guest has taken them. Backends that
 * do not ask are bounded by MAX_PENDING_FRAMES.
 */
const RX_PAUSE_AT = 32;
/** Smallest frame from the guest: a whole Ethernet header (IEEE 802.3 §3.1.1); shorter ones are runts. */
const ETH_HEADER = 14;
/**
 * Largest frame carried either way: Ethernet header + 802.1Q tag + the largest MTU a driver can pick
 * (Linux ETH_MAX_MTU 65535). A TSO super-frame from the guest is at most 64 KiB of IP packet
 * (Linux's GSO_LEGACY_MAX_SIZE), so it fits too. Bigger ones are dropped, which also bounds what
 * MAX_PENDING_FRAMES can hold.
 */
export const MAX_FRAME = 14 + 4 + 65535;
/** §5.1.4 struct virtio_net_config: mac[6], status, max_virtqueue_pairs, mtu. */
const CONFIG_BYTES = 12;

export interface VirtioNetOptions {
  backend: NetBackend;
  mac: Uint8Array;
  queueSize?: number;
  /** Where traffic is counted; pass the same object to the NIC of every boot so counts add up. */
  counters?: NetCounters;
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
  /** Frames waiting for receive buffers, with the header flags worked out when they arrived. */
  private pending: { frame: Uint8Array; flags: number }[] = [];
  private readonly txHeader = new Uint8Array(VIRTIO_NET_HDR_BYTES);
  /** What the offloads did (segments made, checksums completed, malformed headers refused). */
  readonly offloads: OffloadCounters = newOffloadCounters();
  /** The cable (the user's set_link); host-side state kept across reboots by the VM. */
  private linkUp = true;
  /** The backend's carrier: false while its far end (passt, a socket peer) is gone. */
  private carrierUp: boolean;
  /** The backend said it is congested: transmit waits for its writable(). */
  private txBlocked = false;
  /** The backend was told "no" by canReceive and waits for resumeReceive. */
  private rxPaused = false;
  private readonly link: { nic: VirtioNet | null };
  readonly counters: NetCounters;

  constructor(opts: VirtioNetOptions) {
    if (opts.mac.length !== 6) throw new Error("virtio-net MAC must be 6 bytes");
    this.backend = opts.backend;
    this.counters = opts.counters ?? newNetCounters();
    this.carrierUp = opts.backend.carrier ?? true;
    const size = opts.queueSize ?? 256;
    this.queueMaxSizes = [size, size];
    this.config.set(opts.mac, 0);
    this.writeStatus();
    // The backend outlives the device (reboots build a new one on it), so it holds only this small
    // box: detach() empties it and the backend no longer keeps the device and guest RAM alive.
    const link: { nic: VirtioNet | null } = { nic: this };
    this.link = link;
    this.backend.onReceive((frame) => link.nic?.receive(frame));
    this.backend.setPeer?.({
      canReceive: () => link.nic?.canReceive() ?? false,
      writable: () => link.nic?.writable(),
      carrier: (up) => link.nic?.setCarrier(up),
    });
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

  /** Frames dropped on the way to the guest (kept for callers of the earlier API). */
  get rxDropped(): number {
    return this.counters.rxDropped;
  }

  /** Plug the cable in or out: the link state reported in config `status` (§5.1.4), with a config interrupt. */
  setLinkUp(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.linkChanged();
  }

  /** The backend's carrier changed (its peer died or came back); the guest sees it as the link state. */
  setCarrier(up: boolean): void {
    if (up === this.carrierUp) return;
    this.carrierUp = up;
    this.linkChanged();
  }

  /** Whether the guest sees the link up: cable in and the backend's far end there. */
  get linkIsUp(): boolean {
    return this.linkUp && this.carrierUp;
  }

  private linkChanged(): void {
    this.writeStatus();
    this.host?.configChanged();
    // A receive direction held back while the link was down may move again.
    if (this.linkIsUp) this.maybeResume();
  }

  /** QEMU's can_receive: room for a frame now (the driver is running and few frames wait for buffers). */
  canReceive(): boolean {
    const host = this.host;
    const ok = host?.isActive() === true && this.pending.length < RX_PAUSE_AT;
    if (!ok) this.rxPaused = true;
    return ok;
  }

  /** The backend can take frames again after a congested send. */
  writable(): void {
    if (!this.txBlocked) return;
    this.txBlocked = false;
    this.transmit();
  }

  /** A frame from the backend for the guest. */
  receive(frame: Uint8Array): void {
    const host = this.host;
    if (
      host === null ||
      !host.isActive() ||
      !this.linkIsUp ||
      frame.length < ETH_HEADER ||
      frame.length > MAX_FRAME ||
      this.pending.length >= MAX_PENDING_FRAMES
    ) {
      // Runts (not even an Ethernet header: Linux would count them as length errors) and giants too.
      this.counters.rxDropped++;
      return;
    }
    this.pending.push({
      frame: frame.slice(),
      flags: receiveFlags(frame, this.negotiated(host), this.offloads),
    });
    this.deliver();
  }

  deviceFeatures(bank: number): number {
    return bank === 0
      ? (1 << VIRTIO_NET_F_MAC) |
          (1 << VIRTIO_NET_F_MRG_RXBUF) |
          (1 << VIRTIO_NET_F_STATUS) |
          NET_OFFLOAD_FEATURES
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
  activate(): void {
    this.maybeResume();
  }
  reset(): void {
    this.pending = [];
    this.txBlocked = false;
  }

  notify(index: number): void {
    if (index === RECEIVEQ) {
      this.deliver();
      // New buffers: a backend told "no" earlier may send again (also when nothing was pending here,
      // e.g. it was refused before the driver was ready).
      this.maybeResume();
    } else if (index === TRANSMITQ) this.transmit();
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
    new DataView(this.config.buffer).setUint16(6, this.linkIsUp ? VIRTIO_NET_S_LINK_UP : 0, true);
  }

  /**
   * Send what the driver queued (§5.1.6.2: header then frame, all device-readable), until the ring is
   * empty or the backend is congested (QEMU's virtio_net_flush_tx stops on a 0 from
   * qemu_sendv_packet_async the same way and continues from the sent callback). While the link is
   * down the guest's frames are consumed and dropped (counted), as QEMU's virtio_net_drop_tx_queue_data.
   */
  private transmit(): void {
    const host = this.host;
    if (host === null || !host.isActive() || this.txBlocked) return;
    try {
      const q = host.queue(TRANSMITQ);
      const neg = this.negotiated(host);
      let used = false;
      for (let chain = q.pop(); chain !== null; chain = q.pop()) {
        const len = chain.readBytes - VIRTIO_NET_HDR_BYTES;
        used = true;
        // Runts (no whole Ethernet header, or not even the virtio header) and giants are dropped.
        if (len < ETH_HEADER || len > MAX_FRAME || !this.linkIsUp) {
          this.counters.txDropped++;
          q.push(chain.head, 0);
          continue;
        }
        const frame = new Uint8Array(len);
        chain.read(0, this.txHeader);
        chain.read(VIRTIO_NET_HDR_BYTES, frame);
        q.push(chain.head, 0);
        const out = framesToSend(this.txHeader, frame, neg, this.offloads);
        if (out === null) {
          this.counters.txDropped++;
          continue;
        }
        // Every segment of a super-frame goes out even if the backend reports congestion midway:
        // it takes (queues or drops and counts) each frame it is given, as NetBackend.send says.
        let congested = false;
        for (const f of out) {
          this.counters.txFrames++;
          this.counters.txBytes += f.length;
          if (this.backend.send(f) === false) congested = true;
        }
        if (congested) {
          this.txBlocked = true;
          break;
        }
      }
      if (used) host.usedBuffers(TRANSMITQ);
    } catch (e) {
      // Called from backend callbacks too, where the transport's guard is not on the stack.
      host.fail(errorMessage(e));
    }
  }

  /** Tell a backend that was held back that there is room again (QEMU's qemu_flush_queued_packets). */
  private maybeResume(): void {
    if (!this.rxPaused || !this.canReceive()) return;
    this.rxPaused = false;
    this.backend.resumeReceive?.();
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
        const { frame, flags } = this.pending[0];
        this.rxHeader[0] = flags;
        const r = mergeable ? this.fillMerged(q, frame) : this.fillOne(q, frame);
        if (r === "wait") break;
        this.pending.shift();
        if (r === "dropped") this.counters.rxDropped++;
        else {
          this.counters.rxFrames++;
          this.counters.rxBytes += frame.length;
          used = true;
        }
      }
      if (used) host.usedBuffers(RECEIVEQ);
      this.maybeResume();
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

  /** The offloads the driver accepted (fixed from FEATURES_OK until reset, §3.1.1). */
  private negotiated(host: VirtioHost): NegotiatedOffloads {
    return {
      tso4: host.hasFeature(VIRTIO_NET_F_HOST_TSO4),
      tso6: host.hasFeature(VIRTIO_NET_F_HOST_TSO6),
      guestCsum: host.hasFeature(VIRTIO_NET_F_GUEST_CSUM),
    };
  }

  /** §5.1.6: num_buffers is the le16 at offset 10 of virtio_net_hdr. */
  private setNumBuffers(n: number): void {
    new DataView(this.rxHeader.buffer).setUint16(10, n, true);
  }
}

/** Outcome of placing one frame in the receive queue. */
type Fill = "delivered" | "dropped" | "wait";
