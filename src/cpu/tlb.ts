/** A direct-mapped software TLB from 4 KiB virtual pages to RAM offsets, one per access type and privilege. */

export const TLB_SIZE = 256;
/** A tag high word no canonical address can have (the loaders reject |hi| >= 2^20 before lookup). */
export const TLB_INVALID_HI = 0x40000000;
/** Byte layout of one TLB in memory: tagLo at 0, tagHi at TLB_TAG_HI, off at TLB_OFF; TLB_BYTES in all. */
export const TLB_TAG_HI = TLB_SIZE * 4;
export const TLB_OFF = TLB_SIZE * 8;
export const TLB_BYTES = TLB_SIZE * 12;
/** Order of the TLBs of a set in memory. */
export const TLB_FETCH = 0;
export const TLB_LOAD = 1;
export const TLB_STORE = 2;

/**
 * Entries cache only pages that map to RAM and whose permission check passed for this access type
 * under the current translation state, so a hit needs no further checks (as TinyEMU does). The tag
 * is the virtual page address split into its low word (with the 12 offset bits zero) and high word.
 */
export class Tlb {
  readonly tagLo: Int32Array;
  readonly tagHi: Int32Array;
  /**
   * Byte offset of the page in guest RAM, as int32 bits: RAM may be up to 4 GiB, so users index with
   * `>>> 0` / `>>> 1` / `>>> 2`, which read the sum of this and the page offset as an unsigned 32-bit value.
   */
  readonly off: Int32Array;

  /**
   * Arrays in `buffer` at `byteOffset` (tagLo, tagHi, off: TLB_SIZE int32 each, in that order, so translated
   * code can probe them), or fresh ones when no buffer is given.
   */
  constructor(buffer?: ArrayBuffer, byteOffset = 0) {
    if (buffer === undefined) {
      this.tagLo = new Int32Array(TLB_SIZE);
      this.tagHi = new Int32Array(TLB_SIZE);
      this.off = new Int32Array(TLB_SIZE);
    } else {
      this.tagLo = new Int32Array(buffer, byteOffset, TLB_SIZE);
      this.tagHi = new Int32Array(buffer, byteOffset + TLB_TAG_HI, TLB_SIZE);
      this.off = new Int32Array(buffer, byteOffset + TLB_OFF, TLB_SIZE);
    }
    this.tagHi.fill(TLB_INVALID_HI);
  }

  invalidateEntry(i: number): void {
    this.tagHi[i] = TLB_INVALID_HI;
  }

  flush(): void {
    this.tagHi.fill(TLB_INVALID_HI);
  }

  /** Invalidate the entry for one virtual page, if present. */
  flushPage(lo: number, hi: number): void {
    const i = (lo >>> 12) & (TLB_SIZE - 1);
    if (this.tagLo[i] === (lo & ~0xfff) && this.tagHi[i] === hi) this.tagHi[i] = TLB_INVALID_HI;
  }

  fill(lo: number, hi: number, ramOff: number): void {
    const i = (lo >>> 12) & (TLB_SIZE - 1);
    this.tagLo[i] = lo & ~0xfff;
    this.tagHi[i] = hi;
    this.off[i] = ramOff;
  }
}

/** The three TLBs used under one effective privilege level. */
export class TlbSet {
  readonly fetch: Tlb;
  readonly load: Tlb;
  readonly store: Tlb;

  /** The three TLBs at `byteOffset` in `buffer` (fetch, load, store, TLB_BYTES apart), or fresh arrays. */
  constructor(buffer?: ArrayBuffer, byteOffset = 0) {
    this.fetch = new Tlb(buffer, byteOffset + TLB_FETCH * TLB_BYTES);
    this.load = new Tlb(buffer, byteOffset + TLB_LOAD * TLB_BYTES);
    this.store = new Tlb(buffer, byteOffset + TLB_STORE * TLB_BYTES);
  }

  flush(): void {
    this.fetch.flush();
    this.load.flush();
    this.store.flush();
  }
}
