/** `tvisor image create`: a new raw or qcow2 image, optionally over a backing file (qemu-img create). */
import type { Command } from "commander";
import { type CreateImageOptions, createImageFile } from "../../storage/node/create-image.js";
import { parseCreateOptions } from "./options.js";
import { parseSize } from "./size.js";
import { warnProbed } from "./warn.js";

export function registerCreate(image: Command): void {
  image
    .command("create")
    .description("create a disk image")
    .option("-f <fmt>", "format: qcow2 or raw", "raw")
    .option(
      "-o <options>",
      "format options: cluster_size, compat, refcount_bits, lazy_refcounts, compression_type",
    )
    .option("-b <backing>", "backing file (qcow2)")
    .option("-F <fmt>", "backing file format")
    .option("-q", "quiet")
    .argument("<path>")
    .argument("[size]", "size with optional K, M, G, T suffix")
    .action(
      async (
        path: string,
        size: string | undefined,
        o: { f: string; o?: string; b?: string; F?: string; q?: boolean },
      ) => {
        const opts: CreateImageOptions = { format: o.f };
        parseCreateOptions(o.o, opts);
        if (o.b) opts.backingFile = o.b;
        if (o.F) opts.backingFormat = o.F;
        // Without -F the backing format is probed once, here, and recorded in the new header.
        opts.onProbed = warnProbed;
        if (size !== undefined) opts.size = parseSize(size);
        const n = await createImageFile(path, opts);
        if (!o.q) {
          const extra = opts.backingFile
            ? ` backing_file=${opts.backingFile} backing_fmt=${opts.backingFormat}`
            : "";
          process.stdout.write(`Formatting '${path}', fmt=${o.f} size=${n}${extra}\n`);
        }
      },
    );
}
