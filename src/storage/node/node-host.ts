/** The Node.js StorageHost: positioned file I/O over node:fs/promises, path resolution, and zlib. */
import { ftruncateSync, readSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { constants, deflateRawSync, inflateRawSync, inflateSync } from "node:zlib";
import { errorMessage, UserError } from "../../base/errors.js";
import type { DeflateCodec, FileHandle, StorageHost } from "../file-handle.js";

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
    return (await this.fh.stat()).size;
  }

  async truncate(length: number): Promise<void> {
    // qcow2 grows its file by one cluster per allocation; like a small write, that is cheaper here.
    ftruncateSync(this.fd, length);
  }

  async sync(): Promise<void> {
    await this.fh.sync();
  }

  async allocatedBytes(): Promise<number> {
    return (await this.fh.stat()).blocks * 512;
  }

  async close(): Promise<void> {
    await this.fh.close();
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
    default:
      return typeof code === "string" ? code : errorMessage(e);
  }
}

function ioError(path: string, e: unknown, op = "open"): UserError {
  return new UserError(`could not ${op} '${path}': ${ioReason(e)}`);
}

/** Open a file, refusing directories up front: Linux lets open(2) succeed on one and fails every read later. */
async function openFile(path: string, flags: string): Promise<NodeFile> {
  let fh: NodeHandle;
  try {
    fh = await open(path, flags);
  } catch (e) {
    throw ioError(path, e);
  }
  try {
    if ((await fh.stat()).isDirectory()) throw Object.assign(new Error("EISDIR"), { code: "EISDIR" });
  } catch (e) {
    await fh.close();
    throw ioError(path, e);
  }
  return new NodeFile(path, fh);
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

export const nodeStorageHost: StorageHost = {
  open(path, writable) {
    return openFile(path, writable ? "r+" : "r");
  },
  create(path) {
    return openFile(path, "w+");
  },
  resolveRelative(imagePath, name) {
    return isAbsolute(name) ? name : resolve(dirname(imagePath), name);
  },
  deflate: nodeDeflate,
};
