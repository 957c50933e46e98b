/** Opening any supported image on a StorageHost: probe the format, then open backing chains recursively. */
import { ImageFormatError, UserError } from "../base/errors.js";
import type { StorageHost } from "./file-handle.js";
import type { ImageBackend } from "./image-backend.js";
import { type ImageFormat, parseFormat, probeFormat } from "./probe.js";
import { Qcow2Image } from "./qcow2/image.js";
import { RawImage } from "./raw-image.js";
import { VdiImage } from "./vdi-image.js";
import { VhdImage } from "./vhd-image.js";
import { VmdkImage } from "./vmdk-image.js";

export interface OpenOptions {
  format?: string;
  readOnly?: boolean;
  /** Do not open the backing file (for `rebase -u`, `info` on broken chains). */
  noBacking?: boolean;
  /** Open a corrupt or dirty qcow2 image for repair. */
  forRepair?: boolean;
}

/** QEMU refuses backing chains deeper than this; it also stops loops. */
const MAX_CHAIN = 64;

export async function openImageOn(
  host: StorageHost,
  path: string,
  opts: OpenOptions = {},
): Promise<ImageBackend> {
  return openDepth(host, path, opts, 0, new Set());
}

/** Errors whose message already names the file they are about (so a backing file's error is not renamed). */
const named = new WeakSet<Error>();

/** Make a user-facing open error name the file: `qcow2: bad magic` becomes `<path>: qcow2: bad magic`. */
function namingPath(path: string, e: unknown): unknown {
  if (!(e instanceof UserError) || named.has(e)) return e;
  const out = e.message.includes(path)
    ? e
    : e instanceof ImageFormatError
      ? new ImageFormatError(`${path}: ${e.message}`)
      : new UserError(`${path}: ${e.message}`);
  named.add(out);
  return out;
}

async function openDepth(
  host: StorageHost,
  path: string,
  opts: OpenOptions,
  depth: number,
  seen: Set<string>,
): Promise<ImageBackend> {
  if (depth > MAX_CHAIN) throw new ImageFormatError(`backing chain of ${path} is deeper than ${MAX_CHAIN}`);
  if (seen.has(path)) throw new ImageFormatError(`backing chain loops back to ${path}`);
  seen.add(path);
  const readOnly = opts.readOnly ?? false;
  let file: Awaited<ReturnType<StorageHost["open"]>>;
  try {
    file = await host.open(path, !readOnly);
  } catch (e) {
    throw namingPath(path, e);
  }
  try {
    let format: ImageFormat;
    try {
      format = opts.format ? parseFormat(opts.format) : await probeFormat(file);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    switch (format) {
      case "raw":
        return await RawImage.open(file, readOnly);
      case "qcow2":
        return await Qcow2Image.open(host, file, {
          readOnly,
          forRepair: opts.forRepair,
          openBacking: opts.noBacking
            ? undefined
            : (p, fmt) => openDepth(host, p, { format: fmt ?? undefined, readOnly: true }, depth + 1, seen),
        });
      case "vmdk":
      case "vdi":
      case "vpc": {
        if (!readOnly) throw new UserError(`${format} images can only be opened read-only (use 'convert')`);
        if (format === "vmdk") return await VmdkImage.open(file, host.deflate);
        if (format === "vdi") return await VdiImage.open(file);
        return await VhdImage.open(file);
      }
    }
  } catch (e) {
    await file.close();
    throw namingPath(path, e);
  }
}
