/** Creating image files on the host: sparse raw files and fresh qcow2 images (qemu-img create). */
import { unlink } from "node:fs/promises";
import { UserError } from "../../base/errors.js";
import type { FileHandle } from "../file-handle.js";
import { openImageOn } from "../open.js";
import { parseFormat } from "../probe.js";
import { planQcow2, type Qcow2CreateOptions } from "../qcow2/create.js";
import { createFile, nodeStorageHost } from "./node-host.js";

export interface CreateImageOptions extends Partial<Qcow2CreateOptions> {
  format: string;
  /** Virtual size; defaults to the backing file's size. */
  size?: number;
  /** Told when the backing file's format had to be probed (it is then recorded in the new header). */
  onProbed?: (path: string, format: string) => void;
}

/**
 * Create an image; returns its virtual size. Everything that can be checked is checked before the target
 * is touched (options, size, the backing file), and a failure afterwards removes a file this call created
 * and leaves an existing one as it was whenever the host allows (a raw file is grown before it is emptied).
 */
export async function createImageFile(path: string, o: CreateImageOptions): Promise<number> {
  let size = o.size;
  if (o.format !== "raw" && o.format !== "qcow2") {
    try {
      parseFormat(o.format);
    } catch {
      throw new UserError(`unknown image format '${o.format}' (create supports raw and qcow2)`);
    }
    throw new UserError(`creating '${o.format}' images is not supported (use raw or qcow2)`);
  }
  if (o.backingFile) {
    if (o.format !== "qcow2") throw new UserError(`backing files are not supported by format '${o.format}'`);
    const full = nodeStorageHost.resolveRelative(path, o.backingFile);
    const b = await openImageOn(nodeStorageHost, full, {
      format: o.backingFormat ?? undefined,
      readOnly: true,
      onProbed: o.onProbed,
    });
    try {
      size ??= b.size;
      o.backingFormat ??= b.format;
    } finally {
      await b.close();
    }
  }
  if (size === undefined) throw new UserError("image size is required");
  if (!Number.isSafeInteger(size) || size < 0) throw new UserError(`invalid size ${size}`);
  const meta = o.format === "qcow2" ? planQcow2({ ...o, size }) : null;

  const { file, created } = await createFile(path);
  let ok = false;
  try {
    if (meta) {
      await file.truncate(0);
      await file.write(0, meta);
    } else {
      await sizeRawFile(file, size);
    }
    await file.sync();
    ok = true;
  } finally {
    await file.close().catch(() => undefined);
    if (!ok && created) await unlink(path).catch(() => undefined);
  }
  return size;
}

/**
 * Make the file `size` bytes of zeroes. Growing first means a size the host refuses (EFBIG) fails before
 * anything is lost; then the file is emptied and set to the size, leaving a hole.
 */
async function sizeRawFile(file: FileHandle, size: number): Promise<void> {
  if (size > (await file.size())) await file.truncate(size);
  await file.truncate(0);
  await file.truncate(size);
}
