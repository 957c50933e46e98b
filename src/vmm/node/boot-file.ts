/** Reading a kernel, initramfs, firmware image or bare program from the host: regular files only, size-capped. */
/*
 * These files are read whole into memory, so what may be read is bounded before any byte is: the path
 * must name a regular file (a character device such as /dev/zero or /dev/urandom never ends, a FIFO or
 * socket has no size to check, a directory or block device is no boot image), and its size, taken from
 * the open descriptor (no race with a rename), must be within the caller's limit. Exactly that many
 * bytes are read, whatever the file does meanwhile.
 */
import type { Stats } from "node:fs";
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { UserError } from "../../base/errors.js";
import { printable } from "../../storage/printable.js";

/** What a non-regular file is, for the error message. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

function why(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  if (code === "ENOTDIR") return "a path component is not a directory";
  if (code === "ELOOP") return "too many symbolic links";
  return code ?? String(e);
}

/**
 * Read the regular file at `path`, at most `maxBytes` long. Every failure is a UserError naming `what`
 * (the caller's word for it: "kernel", "initrd", "bios") and the path; `limitReason` says where the
 * limit comes from ("the guest's RAM").
 */
export async function readBootFile(
  path: string,
  what: string,
  maxBytes: number,
  limitReason = "the limit",
): Promise<Uint8Array> {
  // The path is the user's, but it may come from a script or an API call: print it escaped.
  const shown = printable(path);
  let fh: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO that has no writer would otherwise block here, before it can be refused.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UserError(`${what}: cannot read ${shown}: ${why(e)}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UserError(`${what}: ${shown} is ${kindOf(st)}, not a regular file`);
    if (st.size > maxBytes) {
      throw new UserError(
        `${what}: ${shown} is ${st.size} bytes, more than ${limitReason} (${maxBytes} bytes)`,
      );
    }
    const buf = new Uint8Array(st.size);
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) throw new UserError(`${what}: ${shown} shrank while it was read`);
      off += bytesRead;
    }
    return buf;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${what}: cannot read ${shown}: ${why(e)}`);
  } finally {
    await fh.close();
  }
}
