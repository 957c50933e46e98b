/** `tvisor image convert`: copy any readable image into a new raw or qcow2 image, optionally compressed. */
import type { Command } from "commander";
import { UserError } from "../../base/errors.js";
import { convertImage } from "../../storage/convert.js";
import { type CreateImageOptions, createImageFile } from "../../storage/node/create-image.js";
import { openImageBackend } from "../../storage/node/open-image.js";
import { parseCreateOptions } from "./options.js";
import { progressBar } from "./progress.js";

export function registerConvert(image: Command): void {
  image
    .command("convert")
    .description("convert an image to another format")
    .option("-f <fmt>", "source format (probed if omitted)")
    .option("-O <fmt>", "output format: raw or qcow2", "raw")
    .option("-o <options>", "output format options")
    .option("-c", "compress the output (qcow2)")
    .option("-p", "show progress")
    .option("-q", "quiet")
    .argument("<src>")
    .argument("<dst>")
    .action(
      async (
        src: string,
        dst: string,
        o: { f?: string; O: string; o?: string; c?: boolean; p?: boolean; q?: boolean },
      ) => {
        if (o.c && o.O !== "qcow2") throw new UserError("compression (-c) needs the qcow2 output format");
        const s = await openImageBackend(src, { format: o.f, readOnly: true });
        try {
          const opts: CreateImageOptions = { format: o.O, size: s.size };
          parseCreateOptions(o.o, opts);
          await createImageFile(dst, opts);
          const d = await openImageBackend(dst, { format: o.O });
          try {
            await convertImage(s, d, { compress: o.c, onProgress: progressBar(!o.q && (o.p ?? true)) });
          } finally {
            await d.close();
          }
        } finally {
          await s.close();
        }
      },
    );
}
