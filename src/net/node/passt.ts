/** NIC backend: user-mode NAT through a supervised passt process, frames over its Unix stream socket. */
import { UserError } from "../../base/errors.js";
import type { NetBackend } from "../../io/net-backend.js";
import type { HostForward } from "../net-address.js";

export interface PasstOptions {
  hostfwd: HostForward[];
  /** The guest's MAC (passt learns it from traffic too; given for its DHCP/NDP replies from the start). */
  mac: Uint8Array;
  log(msg: string): void;
}

export async function openPasst(_opts: PasstOptions): Promise<NetBackend> {
  throw new UserError("user NIC: not implemented yet");
}
