/** A VM's port on a named switch served by another process (`tvisor switch NAME` or the daemon), over its Unix socket. */
/*
 * The switch must be there when the VM starts (a misspelt name is an error, not a silent dead link).
 * Afterwards a switch that goes away (stopped, restarted) shows as carrier down in the guest and is
 * reconnected every second, as QEMU's `-netdev stream,reconnect=1` does.
 */
import { errorMessage, UserError } from "../../base/errors.js";
import { defaultStateDir, switchDirOf } from "../../base/node/state-dir.js";
import type { NetBackend } from "../../io/net-backend.js";
import { StreamNetBackend } from "./stream-socket.js";
import { switchSocketPath } from "./switch-server.js";

export async function openSwitchClient(name: string, dir?: string): Promise<StreamNetBackend> {
  const path = switchSocketPath(dir ?? switchDirOf(defaultStateDir()), name);
  try {
    return await StreamNetBackend.open({
      mode: "connect",
      address: { type: "unix", path },
      reconnectSeconds: 1,
      firstMustConnect: true,
    });
  } catch (e) {
    throw new UserError(
      `switch ${name}: nothing serves ${path} (${errorMessage(e).replace(/^cannot connect to [^:]+:[^:]+: /, "")}); ` +
        `start it with \`tvisor switch ${name}\`, or a daemon with the same state directory`,
    );
  }
}

export interface SwitchPortOptions {
  name: string;
  /** Directory of switch sockets; default `<state-dir>/switches`. */
  dir?: string;
  log(msg: string): void;
}

/** The factory's entry (vmm/node/nic-backend.ts). */
export async function openSwitchPort(opts: SwitchPortOptions): Promise<NetBackend> {
  const b = await openSwitchClient(opts.name, opts.dir);
  b.onLinkChange((up) => opts.log(`switch ${opts.name}: ${up ? "connected" : "switch gone; reconnecting"}`));
  return b;
}
