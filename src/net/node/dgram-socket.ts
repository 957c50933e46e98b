/** NIC backend: one Ethernet frame per UDP or Unix datagram, unicast or multicast (QEMU's `-netdev dgram`). */
import { UserError } from "../../base/errors.js";
import type { NetBackend } from "../../io/net-backend.js";
import type { NetAddress } from "../net-address.js";

export interface DgramSocketOptions {
  /** Where to bind (for multicast: the local interface address). */
  local?: NetAddress;
  /** Where frames go; a multicast group address makes it a multicast bus. */
  remote?: NetAddress;
  log(msg: string): void;
}

export async function openDgramSocket(_opts: DgramSocketOptions): Promise<NetBackend> {
  throw new UserError("dgram NIC: not implemented yet");
}
