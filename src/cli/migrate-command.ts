/** `tvisor migrate VM --to HOST:PORT`: live-migrate a running VM to another daemon (docs/migration.md). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { DEFAULT_MAX_DOWNTIME_MS, type MigrateRequest, type MigrateResult } from "../api/migration.js";
import { NAME_PATTERN } from "../api/vm-spec.js";
import { UserError } from "../base/errors.js";
import { DaemonClient } from "./daemon-client.js";
import { stateDirOf } from "./state-dir.js";

interface MigrateFlags {
  stateDir?: string;
  to?: string;
  tokenFile?: string;
  maxDowntime?: string;
  copyStorage?: boolean;
  json?: boolean;
}

/** The destination's token: the file given, else this host's daemon's own token (one token for a cluster). */
function readToken(f: MigrateFlags): string {
  const path = f.tokenFile ?? join(stateDirOf(f.stateDir), "token");
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UserError(
      `--token-file: cannot read ${path}: ${code === "ENOENT" ? "no such file" : (code ?? String(e))}`,
    );
  }
  if (text === "" || text.length > 1024 || /\s/.test(text))
    throw new UserError(`--token-file: ${path} does not hold a token`);
  return text;
}

export function registerMigrateCommand(program: Command): void {
  program
    .command("migrate")
    .description(
      "live-migrate a running VM to the daemon at HOST:PORT (its TCP API); disks on shared storage, or copied along with --copy-storage",
    )
    .argument("<name>", "VM name")
    .requiredOption(
      "--to <host:port>",
      "the destination daemon's TCP API (`tvisor daemon --listen tcp:HOST:PORT`)",
    )
    .option("--token-file <file>", "the destination's API token (default: this daemon's <state-dir>/token)")
    .option("--max-downtime <ms>", `downtime target in milliseconds (default ${DEFAULT_MAX_DOWNTIME_MS})`)
    .option(
      "--copy-storage",
      "copy the disks along while the guest runs (to the destination's <state-dir>/disks/VM/)",
    )
    .option("--json", "print the report as JSON")
    .option("--state-dir <dir>", "the local daemon's state directory")
    .action(async (vm: string, f: MigrateFlags) => {
      if (!new RegExp(NAME_PATTERN).test(vm)) throw new UserError(`VM name "${vm}" is not valid`);
      const to = f.to ?? "";
      if (!/^[^\s/@]+:[0-9]{1,5}$/.test(to) || Number(to.slice(to.lastIndexOf(":") + 1)) > 65535)
        throw new UserError(`--to: expected HOST:PORT, got "${to}"`);
      const body: MigrateRequest = { to, token: readToken(f) };
      if (f.maxDowntime !== undefined) {
        const n = Number(f.maxDowntime);
        if (!/^\d+$/.test(f.maxDowntime) || n < 1 || n > 600000)
          throw new UserError(`--max-downtime: expected 1..600000 ms, got "${f.maxDowntime}"`);
        body.maxDowntimeMs = n;
      }
      if (f.copyStorage) body.copyStorage = true;
      const r = await DaemonClient.fromFlag(f.stateDir).call<MigrateResult>(
        "POST",
        `/v1/vms/${encodeURIComponent(vm)}/migrate`,
        body,
      );
      if (f.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `migrated VM ${vm} to ${r.to}: ${r.rounds} round(s)${r.converged ? "" : " (did not converge)"}, ` +
          `${(r.bytes / 1048576).toFixed(1)} MiB${f.copyStorage ? ` (disks ${(r.diskBytes / 1048576).toFixed(1)} MiB)` : ""}, total ${Math.round(r.totalMs)} ms, downtime ${Math.round(r.downtimeMs)} ms\n`,
      );
    });
}
