/** The memory-mapped I/O contract between the physical bus and device models. */

/** Access width in bytes. 8-byte accesses are split by the bus into two 4-byte accesses, low half first. */
export type AccessSize = 1 | 2 | 4;

/**
 * A device region on the physical bus. Offsets are relative to the region base. Reads return the value
 * zero-extended to 32 bits (as an unsigned number); writes get the low `size` bytes of `value`.
 */
export interface MmioDevice {
  readonly name: string;
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}
