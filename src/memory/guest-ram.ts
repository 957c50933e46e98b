/** Guest RAM: one contiguous buffer mapped at a guest-physical base, with typed views for fast access. */

/** Guest-physical RAM. Views alias one buffer; offsets are byte offsets from `base`. Host is little-endian. */
export class GuestRam {
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly view: DataView;

  constructor(
    readonly base: number,
    readonly size: number,
  ) {
    if (size <= 0 || size % 4096 !== 0) throw new Error(`RAM size must be a positive multiple of 4 KiB`);
    // Byte-indexed typed arrays hold at most 2^32 elements; the CPU's fast paths index with `>>> 0`.
    if (size > 2 ** 32) throw new Error(`RAM size must be at most 4 GiB`);
    this.buffer = new ArrayBuffer(size);
    this.u8 = new Uint8Array(this.buffer);
    this.i8 = new Int8Array(this.buffer);
    this.u16 = new Uint16Array(this.buffer);
    this.i16 = new Int16Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.view = new DataView(this.buffer);
  }

  /** True when [gpa, gpa+len) lies wholly inside RAM. Every guest-controlled DMA range is checked here. */
  contains(gpa: number, len: number): boolean {
    return (
      Number.isSafeInteger(gpa) &&
      Number.isSafeInteger(len) &&
      len >= 0 &&
      gpa >= this.base &&
      gpa + len <= this.base + this.size
    );
  }

  /** A view of guest memory for DMA, or null when any byte is outside RAM. */
  slice(gpa: number, len: number): Uint8Array | null {
    if (!this.contains(gpa, len)) return null;
    const off = gpa - this.base;
    return this.u8.subarray(off, off + len);
  }
}
