/** A BlockBackend wrapper that counts bytes and requests for the VM's stats. */
import type { BlockBackend } from "../vmm/host-contracts.js";

export interface DiskCounters {
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
  flushes: number;
}

export function countingDisk(inner: BlockBackend, c: DiskCounters): BlockBackend {
  return {
    get format() {
      return inner.format;
    },
    get size() {
      return inner.size;
    },
    get readOnly() {
      return inner.readOnly;
    },
    async read(offset, buf) {
      await inner.read(offset, buf);
      c.reads++;
      c.readBytes += buf.length;
    },
    async write(offset, data) {
      await inner.write(offset, data);
      c.writes++;
      c.writeBytes += data.length;
    },
    async flush() {
      await inner.flush();
      c.flushes++;
    },
    discard: (offset, length) => inner.discard(offset, length),
    writeZeroes: (offset, length) => inner.writeZeroes(offset, length),
    close: () => inner.close(),
  };
}
