/** `tvisor image check`: refcount audit with qemu-img's report and exit codes (0 clean, 2 corrupt, 3 leaks). */
import type { Command } from "commander";
import { UserError } from "../../base/errors.js";
import { openImageBackend } from "../../storage/node/open-image.js";
import { type CheckResult, checkQcow2, type RepairMode } from "../../storage/qcow2/check.js";
import { Qcow2Image } from "../../storage/qcow2/image.js";
import { warnProbed } from "./warn.js";

function report(r: CheckResult, out: string[]): number {
  const corrupt = r.corruptions - r.corruptionsFixed;
  const leaks = r.leaks - r.leaksFixed;
  if (corrupt === 0 && leaks === 0 && r.checkErrors === 0) out.push("No errors were found on the image.");
  if (corrupt > 0) {
    out.push(`\n${corrupt} errors were found on the image.`);
    out.push("Data may be corrupted, or further writes to the image may corrupt it.");
  }
  if (leaks > 0) {
    out.push(`\n${leaks} leaked clusters were found on the image.`);
    out.push("This means waste of disk space, but no harm to data.");
  }
  if (r.totalClusters > 0) {
    const pct = (n: number): string => ((100 * n) / r.totalClusters).toFixed(2);
    out.push(
      `${r.allocatedClusters}/${r.totalClusters} = ${pct(r.allocatedClusters)}% allocated, ${pct(r.fragmentedClusters)}% fragmented, ${pct(r.compressedClusters)}% compressed clusters`,
    );
  }
  out.push(`Image end offset: ${r.imageEndOffset}`);
  return r.checkErrors > 0 && corrupt === 0 ? 1 : corrupt > 0 ? 2 : leaks > 0 ? 3 : 0;
}

export function registerCheck(image: Command): void {
  image
    .command("check")
    .description("check an image's refcounts for leaks and corruption")
    .option("-f <fmt>", "image format (probed if omitted)")
    .option("-r <mode>", "repair: leaks or all")
    .option("-q", "quiet")
    .argument("<path>")
    .action(async (path: string, o: { f?: string; r?: string; q?: boolean }) => {
      const mode: RepairMode = o.r === undefined ? "none" : o.r === "leaks" || o.r === "all" ? o.r : "none";
      if (o.r !== undefined && mode === "none")
        throw new UserError(`invalid repair mode '${o.r}' (leaks or all)`);
      const img = await openImageBackend(path, {
        format: o.f,
        readOnly: mode === "none",
        noBacking: true,
        forRepair: true,
        onProbed: mode === "none" ? undefined : warnProbed,
      });
      try {
        if (!(img instanceof Qcow2Image)) {
          process.stdout.write("This image format does not support checks\n");
          process.exitCode = 63;
          return;
        }
        const out: string[] = [];
        let r = await checkQcow2(img, mode);
        if (r.failed !== null) {
          // qemu-img: "Check failed: ..." with exit code 1 and no report.
          for (const m of r.messages) process.stderr.write(`${m}\n`);
          throw new UserError(`${path}: check failed: ${r.failed}`);
        }
        if (mode !== "none" && (r.leaksFixed > 0 || r.corruptionsFixed > 0)) {
          out.push("The following inconsistencies were found and repaired:\n");
          out.push(`    ${r.leaksFixed} leaked clusters`);
          out.push(`    ${r.corruptionsFixed} corruptions\n`);
          out.push("Double checking the fixed image now...");
          r = await checkQcow2(img, "none");
        }
        if (mode !== "none" || r.corruptions > 0 || r.leaks > 0) {
          for (const m of r.messages) process.stderr.write(`${m}\n`);
        }
        const code = report(r, out);
        if (!o.q) process.stdout.write(`${out.join("\n")}\n`);
        process.exitCode = code;
      } finally {
        await img.close();
      }
    });
}
