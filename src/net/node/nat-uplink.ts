/** A switch's NAT uplink: one supervised passt attached to the switch as a port, so its VMs reach the host. */
/*
 * The "a switch can have a NAT uplink (one shared passt)": passt (net/node/passt.ts) is wired to a
 * port of the switch's NetHub as a VM's NIC would be, so its DHCP, ARP, DNS and NAT answer whoever on the
 * switch asks. passt keeps its restart supervision (a dead passt is restarted with back-off; frames meanwhile
 * are dropped and counted) and closing the uplink ends it.
 *
 * One guest at a time: the bookworm passt (0.0~git20230309) knows one guest, the MAC that last sent it a
 * frame (it addresses everything it sends to that MAC) and one address it leases (10.0.2.15), so two VMs
 * using the uplink at once would both lease 10.0.2.15 and take each other's traffic. The other VMs on the
 * switch still talk among themselves on their own addresses.
 */
import type { NetBackend } from "../../io/net-backend.js";
import type { NetHub } from "../hub.js";
import type { HostForward } from "../net-address.js";
import { openPasst } from "./passt.js";

export interface NatUplinkOptions {
  hostfwd: HostForward[];
  /** Host-side resolvers (see passt.ts, hostDnsArgs); default /etc/resolv.conf. */
  dns?: string[];
  log(msg: string): void;
}

export class NatUplink {
  private constructor(
    private readonly port: NetBackend,
    private readonly passt: NetBackend,
  ) {}

  /** Start passt and attach it to `hub`; rejects (a one-line UserError) when passt cannot start. */
  static async attach(hub: NetHub, opts: NatUplinkOptions): Promise<NatUplink> {
    const passt = await openPasst({
      hostfwd: opts.hostfwd,
      dns: opts.dns,
      log: (m) => opts.log(`NAT uplink: ${m}`),
    });
    const port = hub.port();
    // The hub delivers synchronously and cannot hold frames for one port, so passt is never told to wait:
    // what it cannot take is dropped and counted there (its bounded write queue), as a switch port's backlog.
    passt.setPeer?.({ canReceive: () => true, writable: () => {}, carrier: () => {} });
    passt.onReceive((frame) => port.send(frame));
    port.onReceive((frame) => passt.send(frame));
    return new NatUplink(port, passt);
  }

  /** Whether passt is running (false between its death and its restart). */
  get carrier(): boolean {
    return this.passt.carrier ?? true;
  }

  /** Frames dropped on the way to passt (passt down, its queue full). */
  get dropped(): number {
    return this.passt.dropped ?? 0;
  }

  close(): void {
    this.port.close();
    this.passt.close();
  }
}
