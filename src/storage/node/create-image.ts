/** Creating image files on the host: sparse raw files and fresh qcow2 images (qemu-img create). */
import { UserError } from "../../base/errors.js";
import { openImageOn } from "../open.js";
import { createQcow2, type Qcow2CreateOptions } from "../qcow2/create.js";
import { nodeStorageHost } from "./node-host.js";

export interface CreateImageOptions extends Partial<Qcow2CreateOptions> {
  format: string;
  /** Virtual size; defaults to the backing file's size. */
  size?: number;
}

/** Create an image; returns its virtual size. */
export async function createImageFile(path: string, o: CreateImageOptions): Promise<number> {
  let size = o.size;
  if (o.backingFile) {
    if (o.format !== "qcow2") throw new UserError(`backing files are not supported by format '${o.format}'`);
    const full = nodeStorageHost.resolveRelative(path, o.backingFile);
    const b = await openImageOn(nodeStorageHost, full, {
      format: o.backingFormat ?? undefined,
      readOnly: true,
    });
    try {
      size ??= b.size;
      o.backingFormat ??= b.format;
    } finally {
      await b.close();
    }
  }
  if (size === undefined) throw new UserError("image size is required");
  if (o.format === "raw") {
    const f = await nodeStorageHost.create(path);
    try {
      await f.truncate(size);
    } finally {
      await f.close();
    }
    return size;
  }
  if (o.format !== "qcow2")
    throw new UserError(`creating '${o.format}' images is not supported (use raw or qcow2)`);
  const f = await nodeStorageHost.create(path);
  try {
    await createQcow2(f, { ...o, size });
  } finally {
    await f.close();
  }
  return size;
}
