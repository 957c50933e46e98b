/** NIC backend: a host TAP device through /dev/net/tun (needs CAP_NET_ADMIN), for bridged networking. */
import { UserError } from "../../base/errors.js";
import type { NetBackend } from "../../io/net-backend.js";

export interface TapOptions {
  ifname: string;
  log(msg: string): void;
}

export async function openTap(opts: TapOptions): Promise<NetBackend> {
  throw new UserError(`tap NIC (${opts.ifname}): not implemented yet`);
}
