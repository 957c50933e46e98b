/** NIC backend: Ethernet frames over a TCP or Unix stream, each after a 32-bit big-endian length (QEMU's `-netdev stream`). */
import { UserError } from "../../base/errors.js";
import type { NetBackend } from "../../io/net-backend.js";
import { formatNetAddress, type NetAddress } from "../net-address.js";

export interface StreamSocketOptions {
  /** Listen (true) for one peer at `addr`, or connect (false) to it. */
  server: boolean;
  addr: NetAddress;
  log(msg: string): void;
}

export async function openStreamSocket(opts: StreamSocketOptions): Promise<NetBackend> {
  throw new UserError(`stream NIC (${formatNetAddress(opts.addr)}): not implemented yet`);
}
