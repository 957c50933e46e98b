/**
 * The one place a NIC's backend is created from its specification: each kind's implementation is a
 * file of its own under src/net/node/. `hub` NICs are never opened here: the embedder attaches them
 * (the daemon's network ports, an in-process NetHub).
 */
import { FieldError } from "../../base/errors.js";
import type { NetBackend } from "../../io/net-backend.js";
import { openDgramSocket } from "../../net/node/dgram-socket.js";
import { openPasst } from "../../net/node/passt.js";
import { openStreamSocket } from "../../net/node/stream-socket.js";
import { openSwitchPort } from "../../net/node/switch-port.js";
import { openTap } from "../../net/node/tap.js";
import type { NicContext } from "../vm-host.js";
import type { NicSpec } from "../vm-spec.js";

export async function openNicBackend(nic: NicSpec, ctx: NicContext): Promise<NetBackend> {
  const b = nic.backend;
  const log = (m: string) => ctx.log(`nic ${ctx.index}: ${m}`);
  switch (b.kind) {
    case "hub":
      throw new FieldError(
        `nics[${ctx.index}].backend`,
        `a network NIC${b.network ? ` (${b.network})` : ""} is a port the daemon attaches (tvisor create --nic NETWORK); ` +
          "here use --nic user, switch=NAME, socket, stream, dgram or tap",
        b.network,
      );
    case "user":
      return openPasst({ hostfwd: b.hostfwd, dns: b.hostDns, mac: ctx.mac, log });
    case "stream":
      return openStreamSocket({ server: b.server, addr: b.addr, reconnect: b.reconnect, log });
    case "dgram":
      return openDgramSocket({ local: b.local, remote: b.remote, log });
    case "switch":
      return openSwitchPort({ name: b.name, log });
    case "tap":
      return openTap({ ifname: b.ifname, log });
  }
}
