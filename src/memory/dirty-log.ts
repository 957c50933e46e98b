/**
 * Dirty-page log for live migration: one bit per 4 KiB RAM page, set by every write that reaches
 * `GuestRam.noteWrite` while logging is on (the pre-copy scheme of Clark et al., "Live Migration of
 * Virtual Machines", NSDI 2005, and QEMU's migration bitmap, docs/devel/migration/main.rst).
 */

/** A page bitmap: bit (p & 31) of word (p >>> 5) is page p (RAM offset >> 12). */
export type PageBitmap = Uint32Array;

/** Words a bitmap of `pages` pages needs. */
export function bitmapWords(pages: number): number {
  return Math.ceil(pages / 32);
}

/** Whether page `p` is set in `bits`. */
export function bitmapHas(bits: PageBitmap, p: number): boolean {
  return (bits[p >>> 5] & (1 << (p & 31))) !== 0;
}

/** Number of set pages (population count over the words). */
export function bitmapCount(bits: PageBitmap): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) {
    let v = bits[i];
    v = v - ((v >>> 1) & 0x55555555);
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    n += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
  }
  return n;
}

/** The live log: marks go into `bits` until take() swaps in a fresh bitmap. */
export class DirtyLog {
  private bits: PageBitmap;

  constructor(readonly pages: number) {
    this.bits = new Uint32Array(bitmapWords(pages));
  }

  /** Mark pages first..last (inclusive, already within RAM). */
  mark(first: number, last: number): void {
    const b = this.bits;
    for (let p = first; p <= last; p++) b[p >>> 5] |= 1 << (p & 31);
  }

  has(p: number): boolean {
    return bitmapHas(this.bits, p);
  }

  /** Take the pages dirtied so far and start a clean round. */
  take(): PageBitmap {
    const got = this.bits;
    this.bits = new Uint32Array(got.length);
    return got;
  }
}
