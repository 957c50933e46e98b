/** The host-side network contract: a virtio-net device exchanges whole Ethernet frames with one of these. */

export interface NetBackend {
  /** Transmit one Ethernet frame (no virtio header) from the guest. */
  send(frame: Uint8Array): void;
  /** Register the receiver of frames destined for the guest. */
  onReceive(handler: (frame: Uint8Array) => void): void;
  close(): void;
}
