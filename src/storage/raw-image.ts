/** The raw image format: guest offset = file offset; sparse where the host file system allows. */

import { UserError } from "../base/errors.js";
import type { FileHandle } from "./file-handle.js";
import type { BlockStatus, ImageBackend, ImageInfo } from "./image-backend.js";

/** Zero chunk used for writeZeroes: raw files cannot portably punch holes, so zeroes are written. */
const ZERO_CHUNK = new Uint8Array(1 << 20);

export class RawImage implements ImageBackend {
  readonly format = "raw";
  readonly backing = null;

  private constructor(
    private readonly file: FileHandle,
    public size: number,
    readonly readOnly: boolean,
  ) {}

  get path(): string {
    return this.file.path;
  }

  static async open(file: FileHandle, readOnly: boolean): Promise<RawImage> {
    return new RawImage(file, await file.size(), readOnly);
  }

  /** Create a sparse raw file of the given size (truncate leaves a hole). */
  static async create(file: FileHandle, size: number): Promise<RawImage> {
    await file.truncate(size);
    return new RawImage(file, size, false);
  }

  private check(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new UserError(`request at ${offset} (+${length}) is outside the ${this.size}-byte raw image`);
    }
  }

  private writable(): void {
    if (this.readOnly) throw new UserError(`${this.path}: image is read-only`);
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    this.check(offset, buf.length);
    const n = await this.file.read(offset, buf);
    if (n < buf.length) buf.fill(0, n);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.writable();
    this.check(offset, data.length);
    await this.file.write(offset, data);
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.file.sync();
  }

  async discard(offset: number, length: number): Promise<void> {
    await this.writeZeroes(offset, length);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    this.writable();
    this.check(offset, length);
    while (length > 0) {
      const n = Math.min(length, ZERO_CHUNK.length);
      await this.file.write(offset, ZERO_CHUNK.subarray(0, n));
      offset += n;
      length -= n;
    }
  }

  async resize(newSize: number): Promise<void> {
    this.writable();
    await this.file.truncate(newSize);
    this.size = newSize;
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  async blockStatus(offset: number, length: number): Promise<BlockStatus> {
    return { kind: "data", length: Math.min(length, this.size - offset) };
  }

  async actualSize(): Promise<number> {
    return this.file.allocatedBytes();
  }

  async info(): Promise<ImageInfo> {
    return { format: "raw", virtualSize: this.size, snapshots: [] };
  }
}
