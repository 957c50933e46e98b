/** `tvisor image resize`: grow or (with --shrink) shrink an image; sizes may be relative (+1G, -512M). */
import type { Command } from "commander";
import { UserError } from "../../base/errors.js";
import { openImageBackend } from "../../storage/node/open-image.js";
import { Qcow2Image } from "../../storage/qcow2/image.js";
import { RawImage } from "../../storage/raw-image.js";
import { parseSize } from "./size.js";
import { warnProbed } from "./warn.js";

export function registerResize(image: Command): void {
  image
    .command("resize")
    .description("change the virtual size of an image")
    .option("-f <fmt>", "image format")
    .option("--shrink", "allow shrinking (data past the new end is lost)")
    .option("-q", "quiet")
    .argument("<path>")
    .argument("<size>", "new size, or +SIZE / -SIZE")
    .action(async (path: string, sizeText: string, o: { f?: string; shrink?: boolean; q?: boolean }) => {
      const img = await openImageBackend(path, { format: o.f, noBacking: false, onProbed: warnProbed });
      try {
        const rel = sizeText.startsWith("+") ? 1 : sizeText.startsWith("-") ? -1 : 0;
        const n = parseSize(rel ? sizeText.slice(1) : sizeText);
        const size = rel ? img.size + rel * n : n;
        if (size < 0) throw new UserError("new size would be negative");
        if (img instanceof Qcow2Image) await img.resize(size, o.shrink === true);
        else if (img instanceof RawImage) {
          if (size < img.size && !o.shrink) throw new UserError("use the --shrink option to shrink an image");
          await img.resize(size);
        } else throw new UserError(`format '${img.format}' cannot be resized`);
        if (!o.q) process.stdout.write("Image resized.\n");
      } finally {
        await img.close();
      }
    });
}
