/**
 * A disk on the migration destination that is opened only once the source has paused and flushed: while
 * pre-copy runs the source still writes the shared image, and metadata read earlier (a qcow2 L1 table,
 * refcounts) would be stale. Until activate() the guest does not run, so no request can arrive.
 */
import type { BlockBackend } from "../../io/block-backend.js";
import { MigrationError } from "./errors.js";

export class DeferredDisk implements BlockBackend {
  private inner: BlockBackend | null = null;

  constructor(
    readonly path: string,
    readonly format: string,
    readonly size: number,
    readonly readOnly: boolean,
    private readonly open: () => Promise<BlockBackend>,
  ) {}

  /** Open the image now; it must open as the format and size the source had. */
  async activate(): Promise<void> {
    if (this.inner) return;
    const d = await this.open();
    if (d.format !== this.format || d.size !== this.size) {
      await d.close().catch(() => {});
      throw new MigrationError(
        `disk ${this.path} opens here as ${d.format} of ${d.size} bytes; the source has ${this.format} of ${this.size}`,
      );
    }
    this.inner = d;
  }

  private disk(): BlockBackend {
    if (this.inner === null) throw new Error(`disk ${this.path} is not open yet (migration incoming)`);
    return this.inner;
  }

  read(offset: number, buf: Uint8Array): Promise<void> {
    return this.disk().read(offset, buf);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.disk().write(offset, data);
  }
  flush(): Promise<void> {
    return this.inner ? this.inner.flush() : Promise.resolve();
  }
  discard(offset: number, length: number): Promise<void> {
    return this.disk().discard(offset, length);
  }
  writeZeroes(offset: number, length: number): Promise<void> {
    return this.disk().writeZeroes(offset, length);
  }
  close(): Promise<void> {
    const d = this.inner;
    this.inner = null;
    return d ? d.close() : Promise.resolve();
  }
}
