/** `tvisor switch NAME`: a named virtual switch in the foreground, joined by VMs in any process with `--nic switch=NAME`. */
import { resolve } from "node:path";
import type { Command } from "commander";
import type { SwitchList } from "../api/messages.js";
import { SwitchServer, switchDirOf, switchSocketPath } from "../vmm/node/switch-host.js";
import { DaemonClient } from "./daemon-client.js";
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

  program
    .command("switches")
    .description(
      "list the daemon's named switches (its --nic NETWORK / switch=NAME networks) and their sockets",
    )
    .option("--json", "print JSON")
    .option("--state-dir <dir>", "the daemon's state directory")
    .action(async (f: { json?: boolean; stateDir?: string }) => {
      const { switches } = await DaemonClient.fromFlag(f.stateDir).call<SwitchList>("GET", "/v1/switches");
      if (f.json) return void process.stdout.write(`${JSON.stringify(switches, null, 2)}\n`);
      if (switches.length === 0) return void process.stdout.write("no switches (a VM's --nic makes one)\n");
      for (const s of switches)
        process.stdout.write(
          `${s.name}\t${s.ports} port(s)\t${s.framesForwarded} forwarded, ${s.framesDropped} dropped\t${s.socket ?? "(no socket)"}\n`,
        );
    });
}
