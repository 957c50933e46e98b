/** NIC backend: a port on a named virtual switch that lives outside this VM process (`tvisor switch NAME`, the daemon). */
import { UserError } from "../../base/errors.js";
import type { NetBackend } from "../../io/net-backend.js";

export interface SwitchPortOptions {
  name: string;
  log(msg: string): void;
}

export async function openSwitchPort(opts: SwitchPortOptions): Promise<NetBackend> {
  throw new UserError(`switch NIC (${opts.name}): not implemented yet`);
}
