/**
 * Packet capture of a NIC (`--nic ...,pcap=FILE`, QEMU's `-object filter-dump`): every frame the guest
 * sends and every frame delivered to it is recorded, whatever the backend. The recording itself is a
 * host service (`FrameCapture`, a file in src/net/node/); this wrapper only sits between the NIC and its
 * backend, so the flow-control and link signals pass through untouched.
 */
import type { NetBackend, NetPeer } from "../io/net-backend.js";

/** Where captured frames go. `record` must copy what it keeps (the frame may be guest memory). */
export interface FrameCapture {
  record(frame: Uint8Array): void;
  close(): void;
}

export class CapturingBackend implements NetBackend {
  constructor(
    private readonly inner: NetBackend,
    private readonly capture: FrameCapture,
  ) {}

  send(frame: Uint8Array): boolean {
    this.capture.record(frame);
    return this.inner.send(frame) !== false;
  }

  onReceive(handler: (frame: Uint8Array) => void): void {
    this.inner.onReceive((frame) => {
      this.capture.record(frame);
      handler(frame);
    });
  }

  /** Closing the NIC's side: the backend's owner closes the backend, the capture's owner the capture. */
  close(): void {
    this.inner.close();
  }

  setPeer(peer: NetPeer): void {
    this.inner.setPeer?.(peer);
  }

  resumeReceive(): void {
    this.inner.resumeReceive?.();
  }

  get carrier(): boolean {
    return this.inner.carrier ?? true;
  }

  get dropped(): number {
    return this.inner.dropped ?? 0;
  }
}
