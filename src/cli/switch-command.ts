/** `tvisor switch NAME`: a named virtual switch in the foreground, joined by VMs in any process with `--nic switch=NAME`. */
import { resolve } from "node:path";
import type { Command } from "commander";
import type { SwitchInfo, SwitchList } from "../api/messages.js";
import { checkNicBackend, type HostForward } from "../vmm/nic-spec.js";
import { SwitchServer, switchDirOf, switchSocketPath } from "../vmm/node/switch-host.js";
import { DaemonClient } from "./daemon-client.js";
import { parseNatOptions } from "./nic-flag.js";
import { stateDirOf } from "./state-dir.js";

interface SwitchFlags {
  daemon?: boolean;
  dir?: string;
  nat?: string | true;
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
      "--nat [options]",
      "give the switch a NAT uplink (one passt; QEMU's user-mode layout, one guest at a time uses it); " +
        "options as --nic user's: hostfwd=tcp:127.0.0.1:8080-:80,hostdns=ADDR",
    )
    .option("--daemon", "make the switch in the daemon (POST /v1/switches) instead of running it here")
    .option(
      "--state-dir <dir>",
      "state directory (default: $TVISOR_STATE_DIR, $XDG_STATE_HOME/tvisor, or /var/lib/tvisor as root)",
    )
    .action(async (name: string, f: SwitchFlags) => {
      if (f.daemon) {
        const nat = natOf(f.nat);
        const body = nat ? { name, nat } : { name };
        const s = await DaemonClient.fromFlag(f.stateDir).call<SwitchInfo>("POST", "/v1/switches", body);
        return void process.stdout.write(
          `switch ${s.name} in the daemon${s.natUplink ? " with a NAT uplink" : ""} on ${s.socket ?? "(no socket yet)"}\n`,
        );
      }
      const dir = f.dir ? resolve(f.dir) : switchDirOf(stateDirOf(f.stateDir));
      const nat = natOf(f.nat);
      const sw = await SwitchServer.open({ name, path: switchSocketPath(dir, name) });
      if (nat) {
        const log = (m: string) => process.stderr.write(`tvisor: switch ${name}: ${m}\n`);
        await sw.addNatUplink({ hostfwd: nat.hostfwd, dns: nat.hostDns, log }).catch((e: unknown) => {
          sw.close();
          throw e;
        });
      }
      process.stdout.write(
        `switch ${name} on ${sw.path}${nat ? " with a NAT uplink" : ""} (Ctrl-C stops it)\n`,
      );
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
          `${s.name}\t${s.ports} port(s)\t${s.framesForwarded} forwarded, ${s.framesDropped} dropped\t${s.socket ?? "(no socket)"}${s.natUplink ? `\tNAT uplink ${s.natUplink}` : ""}\n`,
        );
    });
}

/** `--nat [options]` checked as a user NIC's backend would be (ports, addresses), or undefined. */
function natOf(v: string | true | undefined): { hostfwd: HostForward[]; hostDns?: string[] } | undefined {
  if (v === undefined) return undefined;
  const b = checkNicBackend("--nat", { kind: "user", ...parseNatOptions("--nat", v) });
  if (b.kind !== "user") throw new Error("unreachable: --nat parsed to a user backend");
  return b;
}
