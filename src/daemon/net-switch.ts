/** The daemon's named switches: one NetHub per name, VM ports relayed over IPC, and the same switch on a Unix socket. */
/*
 * A switch is made when a VM first joins it (`--nic NETWORK` or `--nic switch=NAME`, one namespace) and
 * lives until the daemon stops, so it outlives any VM (VirtualBox's internal networks). Each one is also
 * served at `<state-dir>/switches/NAME.sock` (net/node/switch-server.ts), so `tvisor run --nic
 * switch=NAME` VMs and QEMU guests (`-netdev stream,addr.path=...`) join the daemon's VMs on it.
 */
import { errorMessage } from "../base/errors.js";
import { NetHub } from "../net/hub.js";
import { SwitchServer, switchSocketPath } from "../net/node/switch-server.js";
import type { NetBackend } from "../vmm/host-contracts.js";

/** One switch as the API lists it. */
export interface SwitchInfo {
  name: string;
  /** Ports attached: the daemon's VM NICs and socket connections. */
  ports: number;
  /** The Unix socket other processes join on, or null when it could not be served. */
  socket: string | null;
  framesForwarded: number;
  framesDropped: number;
}

interface Entry {
  hub: NetHub;
  server: SwitchServer | null;
}

export class NetSwitches {
  private readonly switches = new Map<string, Entry>();
  private closed = false;

  constructor(
    /** Directory of the switch sockets, `<state-dir>/switches`. */
    private readonly dir: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** A port on switch `name` (made on first use); `deliver` receives frames for the VM's NIC. */
  attach(name: string, deliver: (frame: Uint8Array) => void): NetBackend {
    const port = this.entry(name).hub.port();
    port.onReceive(deliver);
    return port;
  }

  list(): SwitchInfo[] {
    return [...this.switches].map(([name, e]) => ({
      name,
      ports: e.hub.size,
      socket: e.server?.path ?? null,
      framesForwarded: e.hub.forwarded,
      framesDropped: e.hub.dropped + (e.server?.counters.backlogDrops ?? 0),
    }));
  }

  /** Stop serving every switch (daemon shutdown); the socket files are removed. */
  close(): void {
    this.closed = true;
    for (const e of this.switches.values()) e.server?.close();
  }

  private entry(name: string): Entry {
    let e = this.switches.get(name);
    if (e) return e;
    const entry: Entry = { hub: new NetHub(), server: null };
    this.switches.set(name, entry);
    e = entry;
    // The VMs' ports work at once; the socket follows (a failure leaves the switch daemon-only, logged).
    (async () => {
      const server = await SwitchServer.open({
        name,
        path: switchSocketPath(this.dir, name),
        hub: entry.hub,
      });
      if (this.closed) server.close();
      else entry.server = server;
      this.log(`switch ${name}: serving ${server.path}`);
    })().catch((err: unknown) => this.log(`switch ${name}: not served on a socket: ${errorMessage(err)}`));
    return e;
  }
}
