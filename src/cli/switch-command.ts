/** `tvisor switch NAME`: a named virtual switch in the foreground, joined by VMs in any process with `--nic switch=NAME`. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { SwitchServer, switchDirOf, switchSocketPath } from "../vmm/node/switch-host.js";
import { stateDirOf } from "./state-dir.js";

interface SwitchFlags {
  dir?: string;
  stateDir?: string;
}

export function registerSwitchCommand(program: Command): void {
  program
    .command("switch <name>")
    .description(
      "run a named virtual switch (a learning bridge) in the foreground until Ctrl-C; VMs in any process join it " +
        "with --nic switch=NAME, QEMU guests with -netdev stream,addr.type=unix,addr.path=<its socket>",
    )
    .option("--dir <dir>", "directory for the switch's socket NAME.sock (default: <state-dir>/switches)")
    .option(
      "--state-dir <dir>",
      "state directory (default: $TVISOR_STATE_DIR, $XDG_STATE_HOME/tvisor, or /var/lib/tvisor as root)",
    )
    .action(async (name: string, f: SwitchFlags) => {
      const dir = f.dir ? resolve(f.dir) : switchDirOf(stateDirOf(f.stateDir));
      const sw = await SwitchServer.open({ name, path: switchSocketPath(dir, name) });
      process.stdout.write(`switch ${name} on ${sw.path} (Ctrl-C stops it)\n`);
      await new Promise<void>((done) => {
        process.once("SIGINT", () => done());
        process.once("SIGTERM", () => done());
      });
      sw.close();
    });
}
