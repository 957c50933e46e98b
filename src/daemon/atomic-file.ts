/** Atomic file replacement: write a temporary file, fsync it, rename it over the target, fsync the directory. */
/*
 * A reader (or a daemon restarted after kill -9 or a power cut) sees either the old file or the new one,
 * never a half-written one: rename(2) is atomic within a filesystem, and the fsyncs order the data before
 * the rename and make the rename itself durable (the directory entry is data of the directory).
 */
import { randomBytes } from "node:crypto";
import { open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Temporary files are "<name>.tmp-<random>" beside the target. */
const TMP_MARK = ".tmp-";

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `${basename(path)}${TMP_MARK}${randomBytes(6).toString("hex")}`);
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dirname(path));
}

export async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Remove temporary files a killed writer left in `dir`; returns their names. */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  const stale = (await readdir(dir)).filter((n) => n.includes(TMP_MARK));
  for (const n of stale) await unlink(join(dir, n)).catch(() => {});
  return stale;
}
