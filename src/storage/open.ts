/**
 * Opening any supported image on a StorageHost: probe the format, then open backing chains recursively.
 *
 * Trust rule for backing files (QEMU's CVE-2008-2004 class, made stricter): only an image whose format the
 * caller gave explicitly may open the backing file its header names. A probed image's header may have
 * been written by a guest into what was meant to be a raw disk, so a probed image that names a backing
 * file fails to open, with a message saying to give the format. The rule applies down the chain: a
 * backing file whose format is recorded in its parent's header counts as explicit (the parent was
 * trusted); one whose format had to be probed may not open a backing file of its own.
 */
import { ImageFormatError, UserError } from "../base/errors.js";
import type { StorageHost } from "./file-handle.js";
import type { ImageBackend } from "./image-backend.js";
import { printable } from "./printable.js";
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
  /**
   * Called when a format was probed (for the image or a backing file): the caller warns and should record
   * the format explicitly from then on.
   */
  onProbed?: (path: string, format: ImageFormat) => void;
  /** Warnings from the opened images later on (a probed raw disk refusing a write to its first sector). */
  onWarning?: (msg: string) => void;
}

/** The image's format was probed and it names a backing file, which the trust rule above refuses. */
export class ProbedBackingError extends ImageFormatError {
  constructor(
    readonly path: string,
    readonly format: ImageFormat,
    readonly backingName: string,
  ) {
    super(
      `${printable(path)}: the format was probed as ${format}, and a probed image may not open the backing ` +
        `file it names ('${printable(backingName)}'); give the format explicitly (${format}) to trust it`,
    );
    this.name = "ProbedBackingError";
  }
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
  const shown = printable(path);
  const out = e.message.includes(shown)
    ? e
    : e instanceof ImageFormatError
      ? new ImageFormatError(`${shown}: ${e.message}`)
      : new UserError(`${shown}: ${e.message}`);
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
  if (depth > MAX_CHAIN)
    throw new ImageFormatError(`backing chain of ${printable(path)} is deeper than ${MAX_CHAIN}`);
  if (seen.has(path)) throw new ImageFormatError(`backing chain loops back to ${printable(path)}`);
  // A name read from a file may hold bytes no host path can (NUL); say so instead of failing in the host.
  if (path.includes("\0")) throw new ImageFormatError(`image name '${printable(path)}' contains a NUL byte`);
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
    const probed = !opts.format;
    try {
      format = opts.format ? parseFormat(opts.format) : await probeFormat(file);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    if (probed) opts.onProbed?.(path, format);
    let img: ImageBackend;
    switch (format) {
      case "raw":
        img = await RawImage.open(file, readOnly, { probed, onWarning: opts.onWarning });
        break;
      case "qcow2":
        img = await Qcow2Image.open(host, file, {
          readOnly,
          forRepair: opts.forRepair,
          openBacking: opts.noBacking
            ? undefined
            : async (p, fmt, name) => {
                if (probed) throw new ProbedBackingError(path, format, name);
                const sub: OpenOptions = {
                  format: fmt ?? undefined,
                  readOnly: true,
                  onProbed: opts.onProbed,
                  onWarning: opts.onWarning,
                };
                return openDepth(host, p, sub, depth + 1, seen);
              },
        });
        break;
      case "vmdk":
      case "vdi":
      case "vpc": {
        if (!readOnly) throw new UserError(`${format} images can only be opened read-only (use 'convert')`);
        if (format === "vmdk") img = await VmdkImage.open(file, host.deflate);
        else if (format === "vdi") img = await VdiImage.open(file);
        else img = await VhdImage.open(file);
        break;
      }
    }
    img.formatProbed = probed;
    return img;
  } catch (e) {
    await file.close();
    throw namingPath(path, e);
  }
}
