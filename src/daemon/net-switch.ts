/** Networks between VM processes: one NetHub (learning switch) per network name, ports relayed over IPC. */

import { NetHub } from "../net/hub.js";
import type { NetBackend } from "../vmm/host-contracts.js";

export class NetSwitches {
  private readonly hubs = new Map<string, NetHub>();

  /** A port on network `name`; `deliver` receives frames for the VM's NIC. */
  attach(name: string, deliver: (frame: Uint8Array) => void): NetBackend {
    let hub = this.hubs.get(name);
    if (!hub) {
      hub = new NetHub();
      this.hubs.set(name, hub);
    }
    const port = hub.port();
    port.onReceive(deliver);
    return port;
  }

  /** Drop networks nobody is attached to. */
  prune(): void {
    for (const [name, hub] of this.hubs) if (hub.size === 0) this.hubs.delete(name);
  }
}
