/** `tvisor image snapshot`: list, create, apply and delete qcow2 internal snapshots. */
import type { Command } from "commander";
import { UserError } from "../../base/errors.js";
import { openImageBackend } from "../../storage/node/open-image.js";
import { Qcow2Image } from "../../storage/qcow2/image.js";
import { applySnapshot, createSnapshot, deleteSnapshot } from "../../storage/qcow2/snapshot-ops.js";
import { snapshotTable } from "./info.js";
import { warnProbed } from "./warn.js";

export function registerSnapshot(image: Command): void {
  image
    .command("snapshot")
    .description("manage internal snapshots: -l | -c NAME | -a NAME | -d NAME")
    .option("-l", "list snapshots")
    .option("-c <name>", "create a snapshot")
    .option("-a <name>", "apply (revert to) a snapshot")
    .option("-d <name>", "delete a snapshot")
    .option("-f <fmt>", "image format")
    .argument("<path>")
    .action(async (path: string, o: { l?: boolean; c?: string; a?: string; d?: string; f?: string }) => {
      const ops = [o.l, o.c, o.a, o.d].filter((x) => x !== undefined).length;
      if (ops !== 1) throw new UserError("snapshot needs exactly one of -l, -c, -a, -d");
      const img = await openImageBackend(path, {
        format: o.f,
        readOnly: o.l === true,
        noBacking: o.l === true,
        onProbed: o.l === true ? undefined : warnProbed,
      });
      try {
        if (!(img instanceof Qcow2Image))
          throw new UserError(`format '${img.format}' does not support snapshots`);
        if (o.l) {
          if (img.snapshots.length > 0)
            process.stdout.write(`Snapshot list:\n${snapshotTable(img.listSnapshots())}`);
        } else if (o.c !== undefined) await createSnapshot(img, o.c);
        else if (o.a !== undefined) await applySnapshot(img, o.a);
        else if (o.d !== undefined) await deleteSnapshot(img, o.d);
      } finally {
        await img.close();
      }
    });
}
