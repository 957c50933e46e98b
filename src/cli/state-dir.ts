/** Where the daemon keeps its state: --state-dir, else TVISOR_STATE_DIR, else /var/lib/tvisor as root, else the XDG state dir. */
import { join, resolve } from "node:path";
import { defaultStateDir } from "../base/node/state-dir.js";

export { defaultStateDir };

/** The daemon's Unix socket inside the state directory (the daemon uses the same name). */
export const SOCKET_NAME = "tvisor.sock";

export function stateDirOf(flag: string | undefined): string {
  return flag ? resolve(flag) : defaultStateDir();
}

export function socketOf(stateDir: string): string {
  return join(stateDir, SOCKET_NAME);
}
