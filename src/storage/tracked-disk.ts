/**
 * A BlockBackend that records which chunks were written while tracking is on (a block dirty bitmap, as
 * QEMU's BdrvDirtyBitmap). Every guest write path goes through it: virtio-blk writes, discards and
 * write-zeroes (virtio 1.2 §5.2.6). A chunk is marked when the request *completes* (also when it
 * fails): a reader that harvested the bitmap and then read the chunk while the write was in flight sees
 * the chunk marked again in the next harvest, so the copy never misses the write.
 */
import type { BlockBackend } from "../io/block-backend.js";
import { chainStatus } from "./convert.js";
import { DirtyRanges } from "./dirty-ranges.js";
import type { BlockStatus, ImageBackend } from "./image-backend.js";

export class TrackedDisk implements BlockBackend {
  private dirty: DirtyRanges | null = null;

  constructor(readonly inner: BlockBackend) {}

  get format(): string {
    return this.inner.format;
  }
  get size(): number {
    return this.inner.size;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }

  /** Start recording writes in chunks of `chunkBytes` (a fresh, empty set). */
  startTracking(chunkBytes: number): void {
    this.dirty = new DirtyRanges(this.size, chunkBytes);
  }

  /** The chunks written since the last harvest (or the start), as a bitmap; a new set starts. */
  harvest(): Uint8Array {
    if (this.dirty === null) throw new Error("dirty tracking is not on");
    return this.dirty.harvest();
  }

  stopTracking(): void {
    this.dirty = null;
  }

  /**
   * Whether the run at `offset` holds data or reads as zeroes through the whole backing chain (qcow2
   * spec, "Cluster mapping"; the run a backing file supplies counts as data: a copy is flattened). A
   * backend that cannot tell says data.
   */
  flatStatus(offset: number, length: number): Promise<BlockStatus> {
    const i = this.inner as Partial<ImageBackend>;
    if (typeof i.blockStatus === "function" && i.backing !== undefined)
      return chainStatus(this.inner as ImageBackend, offset, length);
    return Promise.resolve({ kind: "data", length: Math.min(length, this.size - offset) });
  }

  read(offset: number, buf: Uint8Array): Promise<void> {
    return this.inner.read(offset, buf);
  }
  async write(offset: number, data: Uint8Array): Promise<void> {
    try {
      await this.inner.write(offset, data);
    } finally {
      this.dirty?.mark(offset, data.length);
    }
  }
  async discard(offset: number, length: number): Promise<void> {
    try {
      await this.inner.discard(offset, length);
    } finally {
      this.dirty?.mark(offset, length);
    }
  }
  async writeZeroes(offset: number, length: number): Promise<void> {
    try {
      await this.inner.writeZeroes(offset, length);
    } finally {
      this.dirty?.mark(offset, length);
    }
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  close(): Promise<void> {
    this.dirty = null;
    return this.inner.close();
  }
}
