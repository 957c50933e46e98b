/** Test-only doubles of the host contracts: an in-memory disk. */
import type { BlockBackend } from "./block-backend.js";

/**
 * A RAM disk. Operations complete on a later microtask, as a real backend's would; with `hold` set they
 * wait until the test calls the functions in `held` (in any order), to model slow or reordered I/O.
 */
export class MemDisk implements BlockBackend {
  readonly format = "raw";
  readonly data: Uint8Array;
  flushes = 0;
  held: (() => void)[] = [];
  hold = false;
  constructor(
    readonly size: number,
    readonly readOnly = false,
  ) {
    this.data = new Uint8Array(size);
  }
  private later(fn: () => void): Promise<void> {
    if (!this.hold) return Promise.resolve().then(fn);
    return new Promise((resolve) => this.held.push(() => resolve(fn())));
  }
  read(offset: number, buf: Uint8Array): Promise<void> {
    return this.later(() => buf.set(this.data.subarray(offset, offset + buf.length)));
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.later(() => this.data.set(data, offset));
  }
  flush(): Promise<void> {
    return this.later(() => {
      this.flushes++;
    });
  }
  discard(offset: number, length: number): Promise<void> {
    return this.later(() => this.data.fill(0, offset, offset + length));
  }
  writeZeroes(offset: number, length: number): Promise<void> {
    return this.later(() => this.data.fill(0, offset, offset + length));
  }
  async close(): Promise<void> {}
}
