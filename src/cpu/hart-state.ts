/** The architectural state of one RISC-V hart: registers, CSR storage, privilege, TLBs and translation cache. */
import { TWO_POW_32 } from "../base/u64.js";
import { CSR_STIMECMP } from "../isa/riscv/csr-names.js";
import type { GuestRam } from "../memory/guest-ram.js";
import type { PhysicalBus } from "../memory/phys-bus.js";
import { MENVCFG_HI_STCE, MIP_STIP, MSTATUS_HI_XL, PRIV_M } from "./csr-bits.js";
import type { FpState } from "./fpu/fp-state.js";
import { TLB_BYTES, TlbSet } from "./tlb.js";

/**
 * Layout of a hart's block in the wasm memory (memory/guest-ram.ts allocates it): translated code reads
 * and writes the registers and probes the TLBs there. x[i] is the i64 at HART_X + 8i (the int32 pair,
 * little-endian), f[i] at HART_F + 8i; TLB set s (0 U, 1 S, 2 M) at HART_TLB + s * 3 * TLB_BYTES.
 */
export const HART_X = 0;
export const HART_F = 512;
export const HART_TLB = 1024;
export const HART_TLB_SET_BYTES = 3 * TLB_BYTES;

/** The hart's view of the platform timer: `mtime` in ticks of the 10 MHz timebase. */
export interface HartTimer {
  mtime(): number;
}

export interface HartOptions {
  hartId: number;
  bus: PhysicalBus;
  timer: HartTimer;
}

/**
 * Plain fields shared by the interpreter (hart.ts), the MMU (mmu.ts), CSR access (csr.ts) and trap
 * delivery (trap.ts). 64-bit values are int32 pairs (low, high); see docs/architecture.md.
 */
export class HartState implements FpState {
  readonly hartId: number;
  readonly bus: PhysicalBus;
  readonly ram: GuestRam;
  readonly timer: HartTimer;

  /** Byte offset of this hart's block in `ram.buffer` (see HART_X), or -1 when it has plain arrays. */
  readonly block: number;
  /** Integer registers: x[2i] low word, x[2i+1] high word. */
  readonly x: Int32Array;
  /** Floating-point registers, raw bits, same layout; singles are NaN-boxed. */
  readonly f: Int32Array;
  fflags = 0;
  frm = 0;

  /** Program counter as a signed 64-bit value held in a JS number (canonical addresses are exact). */
  pc = 0;
  priv = PRIV_M;

  // Machine CSRs. mstatus keeps only its low word; the high word is MSTATUS_HI_XL plus SD.
  mstatus = 0;
  readonly mstatusHi = MSTATUS_HI_XL;
  /** Interrupt-pending bits set by software (SSIP, STIP, SEIP writes) and by devices, kept apart (spec 3.1.9). */
  mipSoft = 0;
  mipHw = 0;
  mie = 0;
  mideleg = 0;
  medeleg = 0;
  mcounteren = 0;
  scounteren = 0;
  mcountinhibit = 0;
  menvcfgLo = 0;
  menvcfgHi = 0;
  senvcfg = 0;
  /** 64-bit CSRs stored verbatim as int32 pairs, indexed by CSR number (mscratch, mepc, mtvec, ...). */
  readonly csrLo = new Int32Array(4096);
  readonly csrHi = new Int32Array(4096);
  /** PMP configuration (pmpcfg0,2,..,14 as 8 bytes each) and addresses (pmpaddr0..63, 54 bits). */
  readonly pmpcfg = new Uint8Array(64);
  readonly pmpaddrLo = new Int32Array(64);
  readonly pmpaddrHi = new Int32Array(64);
  /** Decoded PMP ranges [start, end) per entry, the number of entries to scan, and whether any is locked. */
  readonly pmpStart = new Float64Array(64);
  readonly pmpEnd = new Float64Array(64);
  pmpActive = 0;
  pmpLocked = false;

  /** satp, decoded: mode 0 (bare), 8 (Sv39) or 9 (Sv48); root page-table physical address. */
  satpMode = 0;
  satpRoot = 0;
  satpLo = 0;
  satpHi = 0;

  /** Instructions retired (minstret) and cycles (mcycle), as numbers; exact up to 2^53. */
  instret = 0;
  cycleOffset = 0;
  instretOffset = 0;
  /** Counter values held while mcountinhibit stops them. */
  cycleFrozen = 0;
  instretFrozen = 0;

  /** LR/SC reservation (RISC-V unprivileged spec 8.2): the virtual address reserved, or NaN. */
  reservation = Number.NaN;

  /** Set by WFI until an enabled-or-not interrupt is pending (privileged spec 3.3.3). */
  waitingForInterrupt = false;
  /** A hart that is not running (SBI HSM STOPPED). */
  stopped = false;

  /**
   * TLB sets for effective privilege U, S, M (index 0, 1, 2). Fetches use the set of `priv`; loads and stores
   * the set of the effective data privilege, which MPRV can change (privileged spec 3.1.6.3).
   */
  readonly tlbSets: TlbSet[];

  /** Fetch cache: RAM offset of the current code page and its virtual bounds. */
  fetchPageStart = Number.POSITIVE_INFINITY;
  fetchPageEnd = Number.NEGATIVE_INFINITY;
  fetchPageOff = 0;

  /** Scratch results of slow-path loads and CSR reads (low, high). */
  tmpLo = 0;
  tmpHi = 0;

  /** Instructions executed so far in the current run() call, for exact minstret reads. */
  runCount = 0;
  /** Set to end the current run() batch after this instruction (state that the loop caches changed). */
  breakLoop = false;

  constructor(opts: HartOptions) {
    this.hartId = opts.hartId;
    this.bus = opts.bus;
    this.ram = opts.bus.ram;
    this.timer = opts.timer;
    const ram = this.ram;
    this.block = ram.allocHartBlock();
    if (this.block >= 0) {
      const b = this.block;
      this.x = new Int32Array(ram.buffer, b + HART_X, 64);
      this.f = new Int32Array(ram.buffer, b + HART_F, 64);
      this.tlbSets = [0, 1, 2].map((s) => new TlbSet(ram.buffer, b + HART_TLB + s * HART_TLB_SET_BYTES));
    } else {
      this.x = new Int32Array(64);
      this.f = new Int32Array(64);
      this.tlbSets = [new TlbSet(), new TlbSet(), new TlbSet()];
    }
    for (const s of this.tlbSets) ram.registerStoreTlb(s.store);
  }

  /** The TLB set for data accesses: MPRV makes M-mode loads and stores use MPP's translation (spec 3.1.6.3). */
  dataPriv(): number {
    if (this.priv === PRIV_M && (this.mstatus & (1 << 17)) !== 0) return (this.mstatus >>> 11) & 3;
    return this.priv;
  }

  /** Level of the leaf PTE found by the last page walk (0 = 4 KiB page), and whether any superpage is cached. */
  lastLeafLevel = 0;
  superpageCached = false;

  /** Drop every cached translation (satp, sfence.vma, mstatus MPRV/SUM/MXR/MPP changes). */
  flushTlb(): void {
    for (const s of this.tlbSets) s.flush();
    this.superpageCached = false;
    this.invalidateFetch();
  }

  /**
   * SFENCE.VMA with an address (privileged spec 4.2.1): drop the translations of that page only. TLB
   * entries are per 4 KiB page, so when a superpage may be cached the whole TLB goes instead.
   */
  flushTlbPage(lo: number, hi: number): void {
    if (this.superpageCached) {
      this.flushTlb();
      return;
    }
    for (const s of this.tlbSets) {
      s.fetch.flushPage(lo, hi);
      s.load.flushPage(lo, hi);
      s.store.flushPage(lo, hi);
    }
    this.invalidateFetch();
  }

  invalidateFetch(): void {
    this.fetchPageStart = Number.POSITIVE_INFINITY;
    this.fetchPageEnd = Number.NEGATIVE_INFINITY;
  }

  /** Set integer register i from a signed 64-bit JS number (exact for |v| < 2^53). */
  setXNum(i: number, v: number): void {
    if (i === 0) return;
    this.x[2 * i] = v | 0;
    this.x[2 * i + 1] = Math.floor(v / TWO_POW_32) | 0;
  }

  /** Slow helpers for firmware emulation and tests: the register as an unsigned 64-bit value. */
  getX(i: number): bigint {
    return (BigInt(this.x[2 * i + 1] >>> 0) << 32n) | BigInt(this.x[2 * i] >>> 0);
  }

  setX(i: number, v: bigint): void {
    if (i === 0) return;
    const u = BigInt.asUintN(64, v);
    this.x[2 * i] = Number(u & 0xffffffffn) | 0;
    this.x[2 * i + 1] = Number(u >> 32n) | 0;
  }

  /** The current mip value: device lines, software bits, and the Sstc timer (Sstc spec: STIP = time >= stimecmp). */
  mip(): number {
    return this.mipHw | this.mipSoft | this.sstcPending();
  }

  /** STIP from stimecmp when menvcfg.STCE is set. */
  sstcPending(): number {
    if ((this.menvcfgHi & MENVCFG_HI_STCE) === 0) return 0;
    const cmp = (this.csrHi[CSR_STIMECMP] >>> 0) * TWO_POW_32 + (this.csrLo[CSR_STIMECMP] >>> 0);
    return this.timer.mtime() >= cmp ? MIP_STIP : 0;
  }
}

/** Convert a signed 64-bit int32 pair to a JS number; exact when |hi| < 2^21. */
export function pairToNum(lo: number, hi: number): number {
  return hi * TWO_POW_32 + (lo >>> 0);
}
