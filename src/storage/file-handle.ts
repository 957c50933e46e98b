/** The host file contract the storage layer reads and writes images through (implemented in node/). */

/** One open host file. Positions and lengths are bytes; every call is positioned (no shared cursor). */
export interface FileHandle {
  /** The path it was opened with, for error messages and relative backing names. */
  readonly path: string;
  /** Read up to buf.length bytes at position; resolves with the count read (short only at end of file). */
  read(position: number, buf: Uint8Array): Promise<number>;
  /** Write all of data at position, extending the file if needed. */
  write(position: number, data: Uint8Array): Promise<void>;
  /** Current file length in bytes. */
  size(): Promise<number>;
  /** Set the file length; growing leaves a hole where the host file system allows it. */
  truncate(length: number): Promise<void>;
  /** Make every completed write durable (fsync). */
  sync(): Promise<void>;
  /** Bytes the host really stores for the file (st_blocks * 512), as `qemu-img info` reports "disk size". */
  allocatedBytes(): Promise<number>;
  close(): Promise<void>;
}

/** Raw deflate (RFC 1951 without a zlib wrapper), as qcow2 compression type 0 stores it. */
export interface DeflateCodec {
  /** Compress; returns null if the result would not be smaller than maxLength. */
  deflateRaw(data: Uint8Array, maxLength: number): Uint8Array | null;
  /** Decompress into exactly outLength bytes or throw if the stream is invalid or too short. */
  inflateRaw(data: Uint8Array, outLength: number): Uint8Array;
  /** Decompress a zlib-wrapped stream (RFC 1950), as VMDK compressed grains use. */
  inflateZlib(data: Uint8Array, outLength: number): Uint8Array;
}

/** What the storage layer needs from the host: files, path arithmetic and the deflate codec. */
export interface StorageHost {
  /** Open an existing file. */
  open(path: string, writable: boolean): Promise<FileHandle>;
  /**
   * Create a regular file, or open an existing one for overwriting; the contents stay until the caller
   * truncates, so a command that fails its checks after this leaves an existing file as it was.
   */
  create(path: string): Promise<FileHandle>;
  /** Resolve a backing file name found in an image relative to that image's directory. */
  resolveRelative(imagePath: string, name: string): string;
  readonly deflate: DeflateCodec;
}

/** Read exactly buf.length bytes, zero-filling anything past end of file; returns the count that was in the file. */
export async function readAt(file: FileHandle, position: number, buf: Uint8Array): Promise<number> {
  const n = await file.read(position, buf);
  if (n < buf.length) buf.fill(0, n);
  return n;
}

/** Read exactly len bytes that must lie inside the file; `what` names the structure in the error. */
export async function readExact(
  file: FileHandle,
  position: number,
  len: number,
  fileSize: number,
  what: string,
  makeError: (msg: string) => Error,
): Promise<Uint8Array> {
  if (position < 0 || len < 0 || position + len > fileSize) {
    throw makeError(
      `${what} at offset ${position} (+${len}) lies past the end of the file (${fileSize} bytes)`,
    );
  }
  const buf = new Uint8Array(len);
  const n = await file.read(position, buf);
  if (n !== len) throw makeError(`${what}: short read at offset ${position}`);
  return buf;
}
