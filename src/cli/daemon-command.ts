/** `tvisor daemon`: the verb's flags; the daemon itself is injected by the entry point (cli does not import daemon). */
import type { Command } from "commander";
import { UserError } from "../base/errors.js";
import { stateDirOf } from "./state-dir.js";

/** How the daemon enforces CPU weight and cap: probe (a cgroup if it can make one, else pacing), or pacing only. */
export type CpuControlChoice = "auto" | "pacing";

export type DaemonRunner = (opts: {
  stateDir: string;
  listen: string[];
  version: string;
  cpuControl: CpuControlChoice;
}) => Promise<number>;

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
    .option(
      "--cpu-control <how>",
      "enforce --cpu-weight/--cpu-cap with: auto (a cgroup per VM where possible, else pacing) or pacing (nice + SIGSTOP/SIGCONT, no cgroups)",
      "auto",
    )
    .action(async (f: { stateDir?: string; listen: string[]; cpuControl: string }) => {
      if (f.cpuControl !== "auto" && f.cpuControl !== "pacing")
        throw new UserError(`--cpu-control: expected auto or pacing, got "${f.cpuControl}"`);
      process.exitCode = await run({
        stateDir: stateDirOf(f.stateDir),
        listen: f.listen,
        version,
        cpuControl: f.cpuControl,
      });
    });
}
