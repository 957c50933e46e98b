/**
 * Which fixed-size chunks of a disk were written since the last harvest: one bit per chunk. Live
 * migration with copied storage re-sends these chunks in rounds (as QEMU's block dirty bitmaps feed
 * `drive-mirror`, QEMU docs/interop/bitmaps.rst); the bitmap is bounded by the disk's size, never by
 * what the guest does.
 */
export class DirtyRanges {
  private bits: Uint8Array;
  readonly chunks: number;

  constructor(
    readonly size: number,
    readonly chunkBytes: number,
  ) {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new Error("bad dirty-range chunk size");
    this.chunks = Math.ceil(size / chunkBytes);
    this.bits = new Uint8Array(Math.ceil(this.chunks / 8));
  }

  /** Mark every chunk that [offset, offset + length) touches; ranges outside the disk are clipped. */
  mark(offset: number, length: number): void {
    if (length <= 0 || offset >= this.size) return;
    const first = Math.floor(Math.max(0, offset) / this.chunkBytes);
    const last = Math.floor((Math.min(this.size, offset + length) - 1) / this.chunkBytes);
    for (let c = first; c <= last; c++) this.bits[c >> 3] |= 1 << (c & 7);
  }

  /** Take the chunks marked so far and start an empty set, in one synchronous step. */
  harvest(): Uint8Array {
    const out = this.bits;
    this.bits = new Uint8Array(out.length);
    return out;
  }
}

export function chunkMarked(bits: Uint8Array, chunk: number): boolean {
  return (bits[chunk >> 3] & (1 << (chunk & 7))) !== 0;
}

export function markedCount(bits: Uint8Array): number {
  let n = 0;
  for (const b of bits) {
    let v = b;
    while (v) {
      v &= v - 1;
      n++;
    }
  }
  return n;
}
