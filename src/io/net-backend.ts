/** The host-side network contract: a virtio-net device exchanges whole Ethernet frames with one of these. */
/*
 * Flow control follows QEMU's net layer (net/net.c, net/queue.c): the receiving NIC answers
 * `can_receive`, a backend that is told "no" keeps the frame (bounded) and stops reading its
 * source (a socket, passt's stream), and the NIC calls `resumeReceive` — QEMU's
 * `qemu_flush_queued_packets` — once the guest has posted receive buffers again. In the other
 * direction `send` returning false is QEMU's `qemu_send_packet_async` returning 0: the frame was
 * taken, but the NIC stops draining its transmit queue until the backend calls `writable()`.
 *
 * Every member past `close` is optional, so simple backends (an in-process hub port, a test stub)
 * stay simple: a NIC talking to one without flow control still bounds its own queues and counts drops.
 */

export interface NetBackend {
  /**
   * Transmit one Ethernet frame (no virtio header) from the guest. The backend must copy it if it keeps
   * it. Returns false when the backend is congested: this frame is taken (queued or dropped and counted),
   * and the NIC should send nothing more until its `NetPeer.writable()` is called. `void` means true.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: existing backends return nothing, which means "not congested"
  send(frame: Uint8Array): boolean | void;
  /** Register the receiver of frames destined for the guest; receivers copy what they keep. */
  onReceive(handler: (frame: Uint8Array) => void): void;
  close(): void;
  /**
   * Register the NIC's flow-control and link signals (after `onReceive`). A later registration
   * replaces an earlier one (a rebooted board's new NIC takes over the backend).
   */
  setPeer?(peer: NetPeer): void;
  /** The NIC has room again (the guest posted receive buffers): deliver what is held, read the source again. */
  resumeReceive?(): void;
  /** Whether the backend's far end is there (passt running, the socket connected); absent means always. */
  readonly carrier?: boolean;
  /** Frames the backend itself dropped (queue bounds, a dead peer), for the NIC's counters. */
  readonly dropped?: number;
}

/** What a NIC tells its backend about itself. */
export interface NetPeer {
  /** QEMU's can_receive: whether a frame delivered now would be taken rather than dropped. */
  canReceive(): boolean;
  /** A congested backend (send returned false) can take frames again. */
  writable(): void;
  /** The backend's carrier changed: false when its peer process or socket died, true when it is back. */
  carrier(up: boolean): void;
}

/** Traffic counters of one NIC, from the guest's point of view (rx: to the guest, tx: from it). */
export interface NetCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames for the guest that were dropped: link down, no buffers and the bounded queue full, oversize. */
  rxDropped: number;
  /** Frames from the guest that were dropped: malformed (runt, oversize, bad header), link down, backend drops. */
  txDropped: number;
}

export function newNetCounters(): NetCounters {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };
}
