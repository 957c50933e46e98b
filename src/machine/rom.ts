/** A read-only memory region on the MMIO bus (the board's mask ROM at 0x1000). */
import type { AccessSize, MmioDevice } from "../memory/mmio.js";

/** Reads return the bytes little-endian; guest writes are ignored, as writes to a mask ROM are in QEMU. */
export class Rom implements MmioDevice {
  constructor(
    readonly name: string,
    private bytes: Uint8Array = new Uint8Array(0),
  ) {}

  /** The board (re)programs the ROM at reset or restore; the guest cannot. */
  load(bytes: Uint8Array): void {
    this.bytes = bytes.slice();
  }

  contents(): Uint8Array {
    return this.bytes.slice();
  }

  read(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const o = offset + i;
      v = v * 256 + (o < this.bytes.length ? this.bytes[o] : 0);
    }
    return v;
  }

  write(_offset: number, _size: AccessSize, _value: number): void {}
}
