/** An in-process Ethernet hub with MAC learning (a virtual switch) connecting several VMs' NICs. */
/*
 * Usage:
 *   const hub = new NetHub();
 *   new VirtioNet({ backend: hub.port(), mac: macA });
 *   new VirtioNet({ backend: hub.port(), mac: macB });
 * Unicast frames go to the port that last sent from the destination MAC, or are flooded when the
 * destination is unknown; broadcast and multicast are flooded. A frame never returns to its sender.
 * Delivery is synchronous; receivers copy the frame and must not modify it. A receiver that throws
 * loses that frame only: the error must not reach the sender, whose NIC would otherwise see it
 * inside its own transmit and fail (one VM's fault stopping another's network).
 */
import type { NetBackend } from "../io/net-backend.js";

const ETH_HEADER = 14;
/** Bound on learned MACs; when full the table is flushed and relearned, as switches age out entries. */
const MAX_TABLE = 4096;

/** One attachment point on the hub; it is the NetBackend a NIC uses. */
class HubPort implements NetBackend {
  handler: ((frame: Uint8Array) => void) | null = null;
  closed = false;

  constructor(
    private readonly hub: NetHub,
    readonly id: number,
  ) {}

  send(frame: Uint8Array): void {
    if (!this.closed) this.hub.forward(this, frame);
  }

  onReceive(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.closed = true;
    this.hub.detach(this);
  }
}

/** A learning switch: a MAC table maps source addresses to the port they were last seen on. */
export class NetHub {
  private readonly ports = new Set<HubPort>();
  private readonly table = new Map<string, HubPort>();
  private nextId = 0;
  /** Frames forwarded and dropped, for diagnostics. */
  forwarded = 0;
  dropped = 0;

  /** A new port (NetBackend) on the hub. */
  port(): NetBackend {
    const p = new HubPort(this, this.nextId++);
    this.ports.add(p);
    return p;
  }

  /** Number of attached ports. */
  get size(): number {
    return this.ports.size;
  }

  /** @internal Called by a port with a frame its NIC sent. */
  forward(from: HubPort, frame: Uint8Array): void {
    if (frame.length < ETH_HEADER) {
      this.dropped++;
      return;
    }
    const src = macKey(frame, 6);
    // Learn only unicast sources (IEEE 802.1D: a group address is never a source).
    if ((frame[6] & 1) === 0) {
      if (this.table.size >= MAX_TABLE && !this.table.has(src)) this.table.clear();
      this.table.set(src, from);
    }
    if ((frame[0] & 1) === 0) {
      const to = this.table.get(macKey(frame, 0));
      if (to !== undefined) {
        if (to !== from) this.deliver(to, frame);
        return;
      }
    }
    for (const p of this.ports) if (p !== from) this.deliver(p, frame);
  }

  /** @internal Called by a port when it closes. */
  detach(port: HubPort): void {
    this.ports.delete(port);
    for (const [mac, p] of this.table) if (p === port) this.table.delete(mac);
  }

  private deliver(port: HubPort, frame: Uint8Array): void {
    if (port.handler === null) {
      this.dropped++;
      return;
    }
    try {
      port.handler(frame);
      this.forwarded++;
    } catch {
      this.dropped++;
    }
  }
}

function macKey(frame: Uint8Array, at: number): string {
  let s = "";
  for (let i = at; i < at + 6; i++) s += frame[i].toString(16).padStart(2, "0");
  return s;
}
