/** A direct-mapped software TLB from 4 KiB virtual pages to RAM offsets, one per access type and privilege. */

export const TLB_SIZE = 256;
/** A tag high word no canonical address can have (the loaders reject |hi| >= 2^20 before lookup). */
export const TLB_INVALID_HI = 0x40000000;

/**
 * Entries cache only pages that map to RAM and whose permission check passed for this access type
 * under the current translation state, so a hit needs no further checks (as TinyEMU does). The tag
 * is the virtual page address split into its low word (with the 12 offset bits zero) and high word.
 */
export class Tlb {
  readonly tagLo = new Int32Array(TLB_SIZE);
  readonly tagHi = new Int32Array(TLB_SIZE).fill(TLB_INVALID_HI);
  /**
   * Byte offset of the page in guest RAM, as int32 bits: RAM may be up to 4 GiB, so users index with
   * `>>> 0` / `>>> 1` / `>>> 2`, which read the sum of this and the page offset as an unsigned 32-bit value.
   */
  readonly off = new Int32Array(TLB_SIZE);

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
  readonly fetch = new Tlb();
  readonly load = new Tlb();
  readonly store = new Tlb();

  flush(): void {
    this.fetch.flush();
    this.load.flush();
    this.store.flush();
  }
}
