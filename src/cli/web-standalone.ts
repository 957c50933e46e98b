/** `tvisor web --standalone DIR`: copy the in-browser VM page, its scripts and the bundled guest into DIR. */
import { copyFile, mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../base/errors.js";

/** dist/web and images/riscv64, relative to dist/src/cli/. */
const WEB_DIR = fileURLToPath(new URL("../../web/", import.meta.url));
const GUEST_DIR = fileURLToPath(new URL("../../../images/riscv64/", import.meta.url));

/** What the page needs: [source, name in DIR]. */
const FILES: Array<[string, string]> = [
  [join(WEB_DIR, "play.html"), "index.html"],
  [join(WEB_DIR, "play.js"), "play.js"],
  [join(WEB_DIR, "play-worker.js"), "play-worker.js"],
  [join(WEB_DIR, "style.css"), "style.css"],
  [join(WEB_DIR, "xterm.css"), "xterm.css"],
  [join(GUEST_DIR, "Image.gz"), "images/Image.gz"],
  [join(GUEST_DIR, "initramfs.cpio.gz"), "images/initramfs.cpio.gz"],
];

export async function writeStandalone(dir: string): Promise<{ files: number; bytes: number }> {
  for (const [src] of FILES)
    await stat(src).catch(() => {
      throw new UserError(`${src} is missing (run npm run build)`);
    });
  try {
    await mkdir(join(dir, "images"), { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create ${dir}: ${(e as Error).message}`);
  }
  let bytes = 0;
  for (const [src, name] of FILES) {
    await copyFile(src, join(dir, name));
    bytes += (await stat(src)).size;
  }
  return { files: FILES.length, bytes };
}
