/** Where the daemon keeps its state: --state-dir, else TVISOR_STATE_DIR, else /var/lib/tvisor as root, else the XDG state dir. */
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** The daemon's Unix socket inside the state directory (the daemon uses the same name). */
export const SOCKET_NAME = "tvisor.sock";

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TVISOR_STATE_DIR) return resolve(env.TVISOR_STATE_DIR);
  if (process.getuid?.() === 0) return "/var/lib/tvisor";
  // XDG Base Directory spec: $XDG_STATE_HOME, default $HOME/.local/state.
  const base = env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(base, "tvisor");
}

export function stateDirOf(flag: string | undefined): string {
  return flag ? resolve(flag) : defaultStateDir();
}

export function socketOf(stateDir: string): string {
  return join(stateDir, SOCKET_NAME);
}
