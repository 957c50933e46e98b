/** `tvisor daemon`: the verb's flags; the daemon itself is injected by the entry point (cli does not import daemon). */
import type { Command } from "commander";
import { stateDirOf } from "./state-dir.js";

export type DaemonRunner = (opts: { stateDir: string; listen: string[]; version: string }) => Promise<number>;

export function registerDaemonCommand(program: Command, run: DaemonRunner, version: string): void {
  program
    .command("daemon")
    .description(
      "run the VM daemon in the foreground: it keeps VM definitions, runs each VM in its own process, serves the API",
    )
    .option(
      "--state-dir <dir>",
      "state directory (default: $TVISOR_STATE_DIR, $XDG_STATE_HOME/tvisor, or /var/lib/tvisor as root)",
    )
    .option(
      "--listen <endpoint>",
      "also serve the API on unix:PATH or tcp:HOST:PORT (bearer token from <state-dir>/token); repeatable",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .action(async (f: { stateDir?: string; listen: string[] }) => {
      process.exitCode = await run({ stateDir: stateDirOf(f.stateDir), listen: f.listen, version });
    });
}
