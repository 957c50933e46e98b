/** `tvisor image rebase`: point an overlay at a new backing file, copying differing data first unless -u. */
import type { Command } from "commander";
import { UserError } from "../../base/errors.js";
import { isZero } from "../../storage/bytes.js";
import type { ImageBackend } from "../../storage/image-backend.js";
import { nodeStorageHost } from "../../storage/node/node-host.js";
import { openImageBackend } from "../../storage/node/open-image.js";
import { Qcow2Image } from "../../storage/qcow2/image.js";
import { progressBar } from "./progress.js";
import { warnProbed } from "./warn.js";

/**
 * Safe rebase (qemu-img rebase without -u): wherever the overlay defers to its backing file and the old
 * and new backing contents differ, the old contents are written into the overlay, so guest data is unchanged.
 * The walk goes by block-status runs, and skips stretches both backing files report as zeroes, so its cost
 * follows what the images hold rather than the virtual size their headers claim.
 */
export async function copyDifferences(
  img: Qcow2Image,
  oldB: ImageBackend | null,
  newB: ImageBackend | null,
  p: (d: number, t: number) => void,
): Promise<void> {
  const cs = img.cs;
  const a = new Uint8Array(cs);
  const b = new Uint8Array(cs);
  let off = 0;
  while (off < img.size) {
    p(off, img.size);
    const st = await img.blockStatus(off, img.size - off);
    const runEnd = off + st.length;
    if (st.kind === "backing" || (st.kind === "zero" && !oldB)) {
      let pos = off;
      while (pos < runEnd) {
        const zeroes = Math.min(await zeroRun(oldB, pos, runEnd), await zeroRun(newB, pos, runEnd));
        if (zeroes > 0) {
          pos += zeroes;
          continue;
        }
        const len = Math.min(cs - (pos % cs), runEnd - pos);
        const x = a.subarray(0, len);
        const y = b.subarray(0, len);
        await readClip(oldB, pos, x);
        await readClip(newB, pos, y);
        if (!x.every((v, i) => v === y[i])) {
          if (isZero(x)) await img.writeZeroes(pos, len);
          else await img.write(pos, x);
        }
        pos += len;
      }
    }
    off = runEnd;
  }
  p(img.size, img.size);
}

/** How many bytes from pos (up to end) the image reports as zeroes (all of them past its end). */
async function zeroRun(img: ImageBackend | null, pos: number, end: number): Promise<number> {
  if (!img || pos >= img.size) return end - pos;
  const st = await img.blockStatus(pos, Math.min(end, img.size) - pos);
  return st.kind === "zero" ? st.length : 0;
}

async function readClip(img: ImageBackend | null, off: number, buf: Uint8Array): Promise<void> {
  buf.fill(0);
  if (!img || off >= img.size) return;
  await img.read(off, buf.subarray(0, Math.min(buf.length, img.size - off)));
}

export function registerRebase(image: Command): void {
  image
    .command("rebase")
    .description("change the backing file of an image")
    .requiredOption("-b <backing>", "new backing file ('' for none)")
    .option("-F <fmt>", "new backing file format")
    .option("-f <fmt>", "image format")
    .option("-u", "unsafe: only rewrite the backing file name")
    .option("-p", "show progress")
    .argument("<path>")
    .action(async (path: string, o: { b: string; F?: string; f?: string; u?: boolean; p?: boolean }) => {
      const img = await openImageBackend(path, {
        format: o.f,
        noBacking: o.u === true,
        onProbed: warnProbed,
      });
      try {
        if (!(img instanceof Qcow2Image)) throw new UserError(`format '${img.format}' has no backing file`);
        let fmt = o.F ?? null;
        if (o.b !== "") {
          const nb = await openImageBackend(nodeStorageHost.resolveRelative(path, o.b), {
            format: o.F,
            readOnly: true,
          });
          try {
            fmt ??= nb.format;
            if (!o.u) await copyDifferences(img, img.backing, nb, progressBar(o.p === true));
          } finally {
            await nb.close();
          }
        } else if (!o.u) {
          await copyDifferences(img, img.backing, null, progressBar(o.p === true));
        }
        await img.setBackingName(o.b === "" ? null : o.b, fmt);
      } finally {
        await img.close();
      }
    });
}
