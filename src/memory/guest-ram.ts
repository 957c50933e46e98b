/**
 * Guest RAM: one contiguous range mapped at a guest-physical base, held in a `WebAssembly.Memory` together
 * with the harts' register files and TLBs (so translated code reaches all of them with plain loads and
 * stores), with typed views for the interpreter and one write-aware path that knows which pages hold
 * translated code.
 */

import { DirtyLog, type PageBitmap } from "./dirty-log.js";
import type { MemoryReleaser } from "./memory-releaser.js";

/** Bytes of the control area at the start of the wasm memory: one block per hart. RAM starts after it. */
export const HART_BLOCK_SIZE = 32 * 1024;
export const MAX_HART_BLOCKS = 16;
export const RAM_OFFSET = HART_BLOCK_SIZE * MAX_HART_BLOCKS;
const WASM_PAGE = 65536;
/** Largest wasm32 memory V8 allows (65536 pages). Bigger guests keep RAM in a plain ArrayBuffer (no JIT). */
const WASM_MAX_BYTES = 2 ** 32;

/**
 * What the write path needs of a store TLB: the RAM offsets its entries point at and their high tags,
 * so an entry can be dropped when its page starts to hold translated code (cpu/tlb.ts implements it).
 */
export interface StoreTlbView {
  readonly off: Int32Array;
  readonly tagHi: Int32Array;
  invalidateEntry(i: number): void;
}

/** Told which RAM pages (page index = RAM offset >> 12) were written while they held translated code. */
export type CodeWriteListener = (firstPage: number, lastPage: number) => void;

/** Guest-physical RAM. Views alias one buffer; offsets are byte offsets from `base`. Host is little-endian. */
export class GuestRam {
  /** The wasm memory holding the control area and RAM, or null when RAM is too large for wasm32. */
  readonly memory: WebAssembly.Memory | null;
  readonly buffer: ArrayBuffer;
  /** Byte offset of RAM inside `buffer` (0 without a wasm memory). */
  readonly ramOffset: number;
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly view: DataView;
  /**
   * One byte per 4 KiB page: nonzero while some translation was made from that page. Stores to such a page
   * never hit a store TLB (see markCode), so every write to one comes through noteWrite.
   */
  readonly codePages: Uint8Array;
  private nextHartBlock = 0;
  private readonly storeTlbs: StoreTlbView[] = [];
  private readonly listeners: CodeWriteListener[] = [];
  /** The dirty-page log while logging is on (live migration), else null: then writes cost one null test. */
  private dirtyLog: DirtyLog | null = null;
  private releaser: MemoryReleaser | null = null;

  constructor(
    readonly base: number,
    readonly size: number,
  ) {
    if (size <= 0 || size % 4096 !== 0) throw new Error(`RAM size must be a positive multiple of 4 KiB`);
    // Byte-indexed typed arrays hold at most 2^32 elements; the CPU's fast paths index with `>>> 0`.
    if (size > 2 ** 32) throw new Error(`RAM size must be at most 4 GiB`);
    if (RAM_OFFSET + size <= WASM_MAX_BYTES) {
      const pages = Math.ceil((RAM_OFFSET + size) / WASM_PAGE);
      this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      this.buffer = this.memory.buffer;
      this.ramOffset = RAM_OFFSET;
    } else {
      this.memory = null;
      this.buffer = new ArrayBuffer(size);
      this.ramOffset = 0;
    }
    const o = this.ramOffset;
    this.u8 = new Uint8Array(this.buffer, o, size);
    this.i8 = new Int8Array(this.buffer, o, size);
    this.u16 = new Uint16Array(this.buffer, o, size / 2);
    this.i16 = new Int16Array(this.buffer, o, size / 2);
    this.i32 = new Int32Array(this.buffer, o, size / 4);
    this.u32 = new Uint32Array(this.buffer, o, size / 4);
    this.f64 = new Float64Array(this.buffer, o, size / 8);
    this.view = new DataView(this.buffer, o, size);
    this.codePages = new Uint8Array(size / 4096);
  }

  /**
   * Reserve a hart's block in the control area: byte offset into `buffer`, or -1 when the memory has no
   * room (RAM too large for wasm32, or more harts than blocks); the hart then keeps plain arrays.
   */
  allocHartBlock(): number {
    if (this.memory === null || this.nextHartBlock >= MAX_HART_BLOCKS) return -1;
    return HART_BLOCK_SIZE * this.nextHartBlock++;
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

  /** A read-only-by-contract view of guest memory for DMA out of the guest, or null when any byte is outside RAM. */
  slice(gpa: number, len: number): Uint8Array | null {
    if (!this.contains(gpa, len)) return null;
    const off = gpa - this.base;
    return this.u8.subarray(off, off + len);
  }

  /**
   * A view of guest memory that the caller will write (device DMA into the guest, loaders, firmware calls),
   * or null when any byte is outside RAM. The range counts as written now: translations of its code pages
   * are dropped before the caller's bytes land, so stale code can never run afterwards.
   */
  sliceForWrite(gpa: number, len: number): Uint8Array | null {
    if (!this.contains(gpa, len)) return null;
    const off = gpa - this.base;
    this.noteWrite(off, len);
    return this.u8.subarray(off, off + len);
  }

  /** Copy bytes into RAM at a guest-physical address through the write-aware path. False when out of RAM. */
  write(gpa: number, data: Uint8Array): boolean {
    const dst = this.sliceForWrite(gpa, data.length);
    if (dst === null) return false;
    dst.set(data);
    return true;
  }

  /** Fill RAM with a byte through the write-aware path. False when out of RAM. */
  fill(gpa: number, len: number, value: number): boolean {
    const dst = this.sliceForWrite(gpa, len);
    if (dst === null) return false;
    dst.fill(value);
    return true;
  }

  /**
   * Use `r` to give discarded pages back to the host, and offer all of RAM for page sharing. Returns
   * whether the host accepted RAM as shareable.
   */
  setReleaser(r: MemoryReleaser | null): boolean {
    this.releaser = r;
    return r?.shareable(this.u8) ?? false;
  }

  /** Whether discarded pages go back to the host (a releaser is set). */
  get releasesToHost(): boolean {
    return this.releaser !== null;
  }

  /**
   * The guest no longer needs the whole 4 KiB pages in [gpa, gpa+len) (balloon inflate, free page
   * reporting, virtio 1.2 §5.5.6): hand them back to the host, after which they read as zeros. Partial
   * pages at either end are kept. Returns the bytes given back: 0 when the range is outside RAM, when
   * no releaser is set (the pages then keep their contents, which the guest must not rely on anyway)
   * or when the host refused.
   */
  discard(gpa: number, len: number): number {
    if (!this.contains(gpa, len) || this.releaser === null) return 0;
    const start = Math.ceil((gpa - this.base) / 4096) * 4096;
    const end = Math.floor((gpa - this.base + len) / 4096) * 4096;
    if (end <= start) return 0;
    // The contents change (to zeros): translations made from these pages must go first.
    this.noteWrite(start, end - start);
    return this.releaser.release(this.u8.subarray(start, end)) ? end - start : 0;
  }

  /** Replace all of RAM (restore, migration): every translation goes. */
  setAll(data: Uint8Array): void {
    if (data.length !== this.size)
      throw new Error(`RAM image is ${data.length} bytes, expected ${this.size}`);
    this.noteWrite(0, this.size);
    this.u8.set(data);
  }

  /**
   * Record a write to [off, off+len) (RAM offsets) made outside a store TLB hit. Pages that held translated
   * code lose their mark and the listeners drop their translations. Cheap when no code page is touched.
   */
  noteWrite(off: number, len: number): void {
    if (len <= 0) return;
    const first = off >>> 12;
    const last = (off + len - 1) >>> 12;
    if (this.dirtyLog !== null) this.dirtyLog.mark(first, last);
    const cp = this.codePages;
    for (let p = first; p <= last; p++) {
      if (cp[p] !== 0) {
        this.invalidateCode(p, last);
        return;
      }
    }
  }

  private invalidateCode(first: number, last: number): void {
    this.codePages.fill(0, first, last + 1);
    for (const l of this.listeners) l(first, last);
  }

  /** Register a listener for writes to code pages (the JIT's code cache). */
  onCodeWrite(listener: CodeWriteListener): void {
    this.listeners.push(listener);
  }

  /** Register a store TLB (each hart's, per privilege) so markCode can drop entries that map code pages. */
  registerStoreTlb(tlb: StoreTlbView): void {
    this.storeTlbs.push(tlb);
  }

  /**
   * Mark a RAM page as holding translated code (TinyEMU's and QEMU's scheme): store TLB entries for it are
   * dropped on every hart and refills skip it, so stores to it take the slow path, which calls noteWrite.
   */
  markCode(page: number): void {
    if (this.codePages[page] !== 0) return;
    this.codePages[page] = 1;
    const pageOff = page * 4096;
    for (const t of this.storeTlbs) {
      const off = t.off;
      for (let i = 0; i < off.length; i++) if (off[i] === (pageOff | 0)) t.invalidateEntry(i);
    }
  }

  /**
   * Whether a store TLB may cache this RAM page: not while it holds translated code, and, while dirty
   * logging is on, not until the page is marked dirty in the current round (its first write takes the
   * slow path, which marks it; later writes hit the TLB until the next harvest drops the entries).
   */
  storeCacheable(pageOff: number): boolean {
    const p = pageOff >>> 12;
    return this.codePages[p] === 0 && (this.dirtyLog === null || this.dirtyLog.has(p));
  }

  /** Whether dirty-page logging is on. */
  get dirtyLogging(): boolean {
    return this.dirtyLog !== null;
  }

  /**
   * Start logging writes: every page starts clean and every store TLB entry is dropped, so a CPU store (the
   * interpreter's or translated code's, which probe the same TLBs) reaches noteWrite once per page per round.
   */
  startDirtyLog(): void {
    this.dirtyLog = new DirtyLog(this.size / 4096);
    this.dropStoreTlbs();
  }

  /**
   * Take the pages written since logging started or since the last harvest, and re-arm: the log is cleared
   * and store TLB entries dropped in the same synchronous step, so no write between the two is missed.
   */
  harvestDirty(): PageBitmap {
    if (this.dirtyLog === null) throw new Error("dirty logging is off");
    const got = this.dirtyLog.take();
    this.dropStoreTlbs();
    return got;
  }

  /** Stop logging; stores fill the TLBs freely again. */
  stopDirtyLog(): void {
    this.dirtyLog = null;
  }

  private dropStoreTlbs(): void {
    for (const t of this.storeTlbs) for (let i = 0; i < t.off.length; i++) t.invalidateEntry(i);
  }
}
