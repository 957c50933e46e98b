/** `tvisor snapshot create|list|revert|delete|tree VM [SNAP]` and `tvisor clone VM NEW`: daemon client verbs. */
import type { Command } from "commander";
import type { VmInfo } from "../api/messages.js";
import type { SnapshotList, SnapshotResult } from "../api/snapshots.js";
import { NAME_PATTERN } from "../api/vm-spec.js";
import { UserError } from "../base/errors.js";
import { DaemonClient } from "./daemon-client.js";
import { drawSnapshotTree } from "./snapshot-tree-text.js";

const STATE_DIR_HELP = "the daemon's state directory (as for the other VM verbs)";

function checkName(what: string, name: string): string {
  if (!new RegExp(NAME_PATTERN).test(name))
    throw new UserError(
      `${what} "${name}": use letters, digits, '_', '.', '-' (at most 64, not starting with '.', '_' or '-')`,
    );
  return name;
}

const snapPath = (vm: string, suffix = "") =>
  `/v1/vms/${encodeURIComponent(checkName("VM name", vm))}/snapshots${suffix}`;
const oneSnap = (vm: string, snap: string, suffix = "") =>
  snapPath(vm, `/${encodeURIComponent(checkName("snapshot name", snap))}${suffix}`);

interface ClientFlags {
  stateDir?: string;
}

export function registerSnapshotCommands(program: Command): void {
  const snap = program
    .command("snapshot")
    .description("snapshots of a VM kept in its qcow2 disks (machine state too while it runs), as a tree");
  const sub = (name: string, description: string) =>
    snap.command(name).description(description).option("--state-dir <dir>", STATE_DIR_HELP);

  sub("create", "take a snapshot: a running VM pauses briefly; a stopped VM's snapshot holds its disks only")
    .argument("<vm>", "VM name")
    .argument("<snap>", "snapshot name")
    .action(async (vm: string, name: string, f: ClientFlags) => {
      const r = await DaemonClient.fromFlag(f.stateDir).call<SnapshotResult>("POST", snapPath(vm), {
        name: checkName("snapshot name", name),
      });
      const s = r.snapshot!;
      const what =
        s.stateDisk === null ? "disks only" : `machine state ${s.vmStateBytes} bytes in disk ${s.stateDisk}`;
      // A running VM's RAM went out while it ran; the pause is the last dirty pages, CPU, devices, disks.
      const pre = r.precopy
        ? ` (RAM written while the guest ran: ${r.precopy.rounds} round${r.precopy.rounds === 1 ? "" : "s"}, ${Math.round(r.precopy.precopyMs)} ms; ${r.precopy.pagesAtPause} pages at the pause)`
        : "";
      process.stdout.write(
        `snapshot ${s.name} of VM ${vm}: ${what}${r.pauseMs > 0 ? `; paused ${Math.round(r.pauseMs)} ms${pre}` : ""}\n`,
      );
    });

  sub("list", "list a VM's snapshots")
    .argument("<vm>", "VM name")
    .action(async (vm: string, f: ClientFlags) => {
      const t = await DaemonClient.fromFlag(f.stateDir).call<SnapshotList>("GET", snapPath(vm));
      for (const s of t.snapshots) {
        const mark = s.name === t.current ? "*" : " ";
        const what = s.stateDisk === null ? "disks" : `disks+state(${s.vmStateBytes})`;
        process.stdout.write(`${mark} ${s.name}\t${s.createdAt}\tparent=${s.parent ?? "-"}\t${what}\n`);
      }
    });

  sub("tree", "draw a VM's snapshot tree with the current position marked (now)")
    .argument("<vm>", "VM name")
    .action(async (vm: string, f: ClientFlags) => {
      const t = await DaemonClient.fromFlag(f.stateDir).call<SnapshotList>("GET", snapPath(vm));
      process.stdout.write(drawSnapshotTree(t));
    });

  sub(
    "revert",
    "go back to a snapshot (a running VM continues from it in place; a stopped VM gets its disks)",
  )
    .argument("<vm>", "VM name")
    .argument("<snap>", "snapshot name")
    .action(async (vm: string, name: string, f: ClientFlags) => {
      const r = await DaemonClient.fromFlag(f.stateDir).call<SnapshotResult>(
        "POST",
        oneSnap(vm, name, "/revert"),
      );
      process.stdout.write(
        `VM ${vm} reverted to ${name}${r.pauseMs > 0 ? ` (paused ${Math.round(r.pauseMs)} ms)` : ""}\n`,
      );
    });

  sub("delete", "delete a snapshot (its clusters are freed; its children move to its parent)")
    .argument("<vm>", "VM name")
    .argument("<snap>", "snapshot name")
    .action(async (vm: string, name: string, f: ClientFlags) => {
      await DaemonClient.fromFlag(f.stateDir).call<SnapshotResult>("DELETE", oneSnap(vm, name));
      process.stdout.write(`snapshot ${name} of VM ${vm} deleted\n`);
    });

  program
    .command("clone")
    .description(
      "define NEW as a copy of a stopped VM (new name and MAC addresses; disks beside the source's)",
    )
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .argument("<vm>", "source VM")
    .argument("<new>", "name of the clone")
    .option(
      "--linked",
      "qcow2 overlays on the source disks (or on the snapshot, written out once) instead of copies",
    )
    .option("--snapshot <snap>", "clone this snapshot's disk state instead of the current one")
    .option("--compress", "a full clone's disks with compressed clusters")
    .action(
      async (
        vm: string,
        name: string,
        f: ClientFlags & { linked?: boolean; snapshot?: string; compress?: boolean },
      ) => {
        const body: { name: string; linked?: boolean; snapshot?: string; compress?: boolean } = {
          name: checkName("VM name", name),
        };
        if (f.linked) body.linked = true;
        if (f.compress) body.compress = true;
        if (f.snapshot !== undefined) body.snapshot = checkName("snapshot name", f.snapshot);
        const info = await DaemonClient.fromFlag(f.stateDir).call<VmInfo>(
          "POST",
          `/v1/vms/${encodeURIComponent(checkName("VM name", vm))}/clone`,
          body,
        );
        const disks = (info.definition.disks ?? []).map((d) => d.path).join(", ");
        process.stdout.write(`VM ${info.name}: defined${disks ? ` (disks: ${disks})` : ""}\n`);
      },
    );
}
