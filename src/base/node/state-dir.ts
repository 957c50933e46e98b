/** Where tvisor keeps host state by default: TVISOR_STATE_DIR, else /var/lib/tvisor as root, else the XDG state dir. */
/*
 * Shared by the CLI (the daemon's directory, its socket) and the network backends (switch sockets live
 * in `<state-dir>/switches/`), so a `tvisor run` VM finds the switch a daemon or `tvisor switch` serves.
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TVISOR_STATE_DIR) return resolve(env.TVISOR_STATE_DIR);
  if (process.getuid?.() === 0) return "/var/lib/tvisor";
  // XDG Base Directory spec: $XDG_STATE_HOME, default $HOME/.local/state.
  const base = env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(base, "tvisor");
}

/** The directory of the named switches' sockets under a state directory. */
export function switchDirOf(stateDir: string): string {
  return join(stateDir, "switches");
}
