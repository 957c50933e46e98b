/** The daemon's named switches: one NetHub per name, VM ports relayed over IPC, and the same switch on a Unix socket. */
/*
 * A switch is made when a VM first joins it (`--nic NETWORK` or `--nic switch=NAME`, one namespace) and
 * lives until the daemon stops, so it outlives any VM (VirtualBox's internal networks). Each one is also
 * served at `<state-dir>/switches/NAME.sock` (net/node/switch-server.ts), so `tvisor run --nic
 * switch=NAME` VMs and QEMU guests (`-netdev stream,addr.path=...`) join the daemon's VMs on it.
 */
import { errorMessage, UserError } from "../base/errors.js";
import { NetHub } from "../net/hub.js";
import { NatUplink } from "../net/node/nat-uplink.js";
import { SwitchServer, switchSocketPath } from "../net/node/switch-server.js";
import type { NetBackend } from "../vmm/host-contracts.js";
import type { HostForward } from "../vmm/nic-spec.js";
import { conflict } from "./api-error.js";

/** One switch as the API lists it. */
export interface SwitchInfo {
  name: string;
  /** Ports attached: the daemon's VM NICs and socket connections. */
  ports: number;
  /** The Unix socket other processes join on, or null when it could not be served. */
  socket: string | null;
  framesForwarded: number;
  framesDropped: number;
  /** The NAT uplink's passt: running, down (between a death and its restart), or no uplink. */
  natUplink: "up" | "down" | null;
}

interface Entry {
  hub: NetHub;
  server: SwitchServer | null;
  uplink: NatUplink | null;
  pendingUplink?: boolean;
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
      framesDropped: e.hub.dropped + (e.server?.counters.backlogDrops ?? 0) + (e.uplink?.dropped ?? 0),
      natUplink: e.uplink ? (e.uplink.carrier ? "up" : "down") : null,
    }));
  }

  /**
   * Make switch `name` now (POST /v1/switches), with a NAT uplink when `nat` is given (nat-uplink.ts),
   * or give an existing switch one. 409 when there is nothing to do.
   */
  async create(name: string, nat?: { hostfwd: HostForward[]; hostDns?: string[] }): Promise<SwitchInfo> {
    const existed = this.switches.get(name);
    if (existed && (nat === undefined || existed.uplink))
      throw conflict(`switch ${name} exists${existed.uplink ? " with a NAT uplink" : ""}`);
    if (existed?.pendingUplink) throw conflict(`switch ${name} is getting a NAT uplink`);
    const e = this.entry(name);
    if (nat) {
      e.pendingUplink = true;
      try {
        const log = (m: string) => this.log(`switch ${name}: ${m}`);
        const uplink = await NatUplink.attach(e.hub, { hostfwd: nat.hostfwd, dns: nat.hostDns, log });
        if (this.closed) uplink.close();
        else e.uplink = uplink;
      } catch (err) {
        // passt missing or refusing (a forwarded port in use): the request's fault or the host's.
        throw err instanceof UserError ? conflict(errorMessage(err)) : err;
      } finally {
        e.pendingUplink = false;
      }
    }
    return this.list().find((s) => s.name === name) as SwitchInfo;
  }

  /** Stop serving every switch (daemon shutdown); the socket files are removed. */
  close(): void {
    this.closed = true;
    for (const e of this.switches.values()) {
      e.server?.close();
      e.uplink?.close();
    }
  }

  private entry(name: string): Entry {
    let e = this.switches.get(name);
    if (e) return e;
    const entry: Entry = { hub: new NetHub(), server: null, uplink: null };
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
