/** Shared read path for read-only imported formats (VMDK, VDI, VHD) whose data sits in fixed-size blocks. */
import { UserError } from "../base/errors.js";
import type { FileHandle } from "./file-handle.js";
import type { BlockStatus, ImageBackend, ImageInfo } from "./image-backend.js";

/** Where a run of guest bytes lives: a file offset, zeroes, or already-decoded bytes (compressed grains). */
export type Extent = { length: number } & ({ host: number } | { zero: true } | { data: Uint8Array });

export abstract class MappedImage implements ImageBackend {
  abstract readonly format: string;
  readonly readOnly = true;
  readonly backing = null;
  formatProbed = false;

  constructor(
    protected readonly file: FileHandle,
    readonly size: number,
  ) {}

  get path(): string {
    return this.file.path;
  }

  /** Map guest offset g (inside the image) to at most maxLen bytes of one kind. */
  protected abstract lookup(g: number, maxLen: number): Promise<Extent>;

  async read(offset: number, buf: Uint8Array): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + buf.length > this.size) {
      throw new UserError(`request at ${offset} (+${buf.length}) is outside the ${this.size}-byte image`);
    }
    let pos = 0;
    while (pos < buf.length) {
      const e = await this.lookup(offset + pos, buf.length - pos);
      const sub = buf.subarray(pos, pos + e.length);
      if ("host" in e) {
        const n = await this.file.read(e.host, sub);
        if (n < sub.length) sub.fill(0, n);
      } else if ("data" in e) {
        sub.set(e.data.subarray(0, sub.length));
      } else {
        sub.fill(0);
      }
      pos += e.length;
    }
  }

  async blockStatus(offset: number, length: number): Promise<BlockStatus> {
    const e = await this.lookup(offset, Math.max(1, length));
    return { kind: "zero" in e ? "zero" : "data", length: e.length };
  }

  private ro(): never {
    throw new UserError(`${this.format} images are read-only in tvisor; convert them first`);
  }

  async write(): Promise<void> {
    this.ro();
  }

  async discard(): Promise<void> {
    this.ro();
  }

  async writeZeroes(): Promise<void> {
    this.ro();
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    await this.file.close();
  }

  async actualSize(): Promise<number> {
    return this.file.allocatedBytes();
  }

  async info(): Promise<ImageInfo> {
    return { format: this.format, virtualSize: this.size, snapshots: [] };
  }
}
