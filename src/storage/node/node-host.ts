/** The Node.js StorageHost: positioned file I/O over node:fs/promises, path resolution, and zlib. */
import { constants as fsc, ftruncateSync, readSync, writeSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { constants, deflateRawSync, inflateRawSync, inflateSync } from "node:zlib";
import { errorMessage, UserError } from "../../base/errors.js";
import type { DeflateCodec, FileHandle, StorageHost } from "../file-handle.js";
import { printable } from "../printable.js";

type NodeHandle = Awaited<ReturnType<typeof open>>;

/**
 * Requests up to this size use positioned pread/pwrite on the calling thread. A 4 KiB request served from
 * the page cache costs about 2 µs that way against 10–50 µs through libuv's thread pool (a hand-off to a
 * worker and a wake-up of the event loop; measured on the bench host), and the image formats issue several
 * small metadata I/Os per guest request. Larger requests go through the pool, where the copy dominates and
 * the emulator keeps running meanwhile. fsync always goes through the pool: it may wait for the disk.
 * ftruncate is a metadata update and runs here too.
 */
const SYNC_IO_MAX = 128 << 10;

class NodeFile implements FileHandle {
  private readonly fd: number;

  constructor(
    readonly path: string,
    private readonly fh: NodeHandle,
    /** Block devices report size 0 in stat; their size is read from sysfs at open. */
    private readonly deviceSize: number | null = null,
  ) {
    this.fd = fh.fd;
  }

  async read(position: number, buf: Uint8Array): Promise<number> {
    try {
      if (buf.length <= SYNC_IO_MAX) return this.readNow(position, buf);
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await this.fh.read(buf, done, buf.length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    } catch (e) {
      throw ioError(this.path, e, "read");
    }
  }

  private readNow(position: number, buf: Uint8Array): number {
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.fd, buf, done, buf.length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  async write(position: number, data: Uint8Array): Promise<void> {
    try {
      if (data.length <= SYNC_IO_MAX) {
        let done = 0;
        while (done < data.length)
          done += writeSync(this.fd, data, done, data.length - done, position + done);
        return;
      }
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await this.fh.write(data, done, data.length - done, position + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw ioError(this.path, e, "write");
    }
  }

  async size(): Promise<number> {
    if (this.deviceSize !== null) return this.deviceSize;
    try {
      return (await this.fh.stat()).size;
    } catch (e) {
      throw ioError(this.path, e, "stat");
    }
  }

  async truncate(length: number): Promise<void> {
    // qcow2 grows its file by one cluster per allocation; like a small write, that is cheaper here.
    try {
      ftruncateSync(this.fd, length);
    } catch (e) {
      throw ioError(this.path, e, "resize");
    }
  }

  async sync(): Promise<void> {
    try {
      await this.fh.sync();
    } catch (e) {
      throw ioError(this.path, e, "flush");
    }
  }

  async allocatedBytes(): Promise<number> {
    try {
      return (await this.fh.stat()).blocks * 512;
    } catch (e) {
      throw ioError(this.path, e, "stat");
    }
  }

  async close(): Promise<void> {
    try {
      await this.fh.close();
    } catch (e) {
      throw ioError(this.path, e, "close");
    }
  }
}

/** The reason for a failed file operation in words, from the errno code node attaches (EISDIR, ENOENT...). */
export function ioReason(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a path component is not a directory";
    case "EROFS":
      return "read-only file system";
    case "ELOOP":
      return "too many symbolic links";
    case "ENOSPC":
      return "no space left on device";
    case "EIO":
      return "input/output error";
    case "EEXIST":
      return "file exists";
    case "EFBIG":
      return "file too large for the host file system";
    case "EDQUOT":
      return "disk quota exceeded";
    case "ENAMETOOLONG":
      return "file name too long";
    case "ETXTBSY":
      return "file is busy";
    case "EMFILE":
    case "ENFILE":
      return "too many open files";
    case "EINVAL":
      return "invalid argument for this file";
    case "ENXIO":
      return "no such device";
    case "ERR_INVALID_ARG_VALUE":
    case "ERR_INVALID_ARG_TYPE":
      return "invalid file name";
    default:
      return typeof code === "string" ? code : errorMessage(e);
  }
}

function ioError(path: string, e: unknown, op = "open"): UserError {
  return new UserError(`could not ${op} '${printable(path)}': ${ioReason(e)}`);
}

/** Which host files may hold an image: regular files, and block devices where the caller allows them. */
type FileKind = "regular" | "regular-or-block";

/**
 * Open a file for image I/O. O_NONBLOCK makes open(2) of a FIFO return at once instead of waiting for a
 * writer forever; fstat then refuses anything that is not a regular file (or a block device, for opens
 * of existing disks), so FIFOs, sockets, character devices and directories never reach an image format.
 * O_NONBLOCK has no effect on regular files and block devices (open(2), "O_NONBLOCK").
 */
async function openFile(path: string, flags: number, kind: FileKind): Promise<NodeFile> {
  let fh: NodeHandle;
  try {
    fh = await open(path, flags | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  } catch (e) {
    throw ioError(path, e);
  }
  try {
    const st = await fh.stat({ bigint: true });
    if (st.isDirectory()) throw Object.assign(new Error("EISDIR"), { code: "EISDIR" });
    if (st.isFile()) return new NodeFile(path, fh);
    if (st.isBlockDevice() && kind === "regular-or-block") {
      return new NodeFile(path, fh, await blockDeviceSize(path, st.rdev));
    }
    throw new UserError(`could not open '${printable(path)}': ${describeKind(st)}, not a regular file`);
  } catch (e) {
    await fh.close().catch(() => undefined);
    if (e instanceof UserError) throw e;
    throw ioError(path, e);
  }
}

function describeKind(st: {
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (st.isFIFO()) return "is a FIFO";
  if (st.isSocket()) return "is a socket";
  if (st.isCharacterDevice()) return "is a character device";
  if (st.isBlockDevice()) return "is a block device";
  return "is a special file";
}

/** A block device's size from sysfs (512-byte units, Documentation/ABI/stable/sysfs-block "size"). */
async function blockDeviceSize(path: string, rdev: bigint): Promise<number> {
  // Linux dev_t: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31 (glibc sys/sysmacros.h).
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  try {
    const text = await readFile(`/sys/dev/block/${major}:${minor}/size`, "utf8");
    const sectors = Number.parseInt(text.trim(), 10);
    if (!Number.isSafeInteger(sectors * 512) || sectors < 0) throw new Error("bad size");
    return sectors * 512;
  } catch {
    throw new UserError(`could not open '${printable(path)}': the size of the block device is unknown`);
  }
}
/** zlib from node: qcow2 uses raw deflate with a 4 KiB window (qcow2 spec, "compression_type"; QEMU uses -12). */
export const nodeDeflate: DeflateCodec = {
  deflateRaw(data, maxLength) {
    const out = deflateRawSync(data, { windowBits: 12, memLevel: 9, level: constants.Z_DEFAULT_COMPRESSION });
    return out.length < maxLength ? new Uint8Array(out.buffer, out.byteOffset, out.length) : null;
  },
  inflateRaw(data, outLength) {
    // Trailing sector padding after the stream is normal, so stop at the stream end and accept it.
    const out = inflateRawSync(data, { maxOutputLength: outLength, finishFlush: constants.Z_SYNC_FLUSH });
    if (out.length !== outLength) throw new Error(`decompressed ${out.length} bytes, expected ${outLength}`);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  },
  inflateZlib(data, outLength) {
    const out = inflateSync(data, { maxOutputLength: outLength, finishFlush: constants.Z_SYNC_FLUSH });
    if (out.length !== outLength) throw new Error(`decompressed ${out.length} bytes, expected ${outLength}`);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  },
};

/**
 * Create a new regular file, or open an existing one without truncating it. `created` says which, so a
 * command that fails later removes only a file it made itself.
 */
export async function createFile(path: string): Promise<{ file: FileHandle; created: boolean }> {
  try {
    return { file: await openFile(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, "regular"), created: true };
  } catch (e) {
    // EEXIST (also for a dangling symlink, which O_EXCL refuses to follow): open what is there.
    if (!(e instanceof UserError) || !/file exists|EEXIST/.test(e.message)) throw e;
  }
  return { file: await openFile(path, fsc.O_RDWR, "regular"), created: false };
}

export const nodeStorageHost: StorageHost = {
  open(path, writable) {
    return openFile(path, writable ? fsc.O_RDWR : fsc.O_RDONLY, "regular-or-block");
  },
  create(path) {
    // No O_TRUNC: the caller empties the file only once everything that can be checked has been.
    return openFile(path, fsc.O_RDWR | fsc.O_CREAT, "regular");
  },
  resolveRelative(imagePath, name) {
    return isAbsolute(name) ? name : resolve(dirname(imagePath), name);
  },
  deflate: nodeDeflate,
};
