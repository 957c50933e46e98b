/** The SiFive CLINT / RISC-V ACLINT (MSWI + MTIMER) as QEMU's `virt` board maps it at 0x02000000. */
/*
 * Usage (machine wiring):
 *   const clint = new Aclint({ hartCount, sink, clock });   // optional timerBit (default MTIP = 7)
 *   bus.map(ACLINT_BASE, ACLINT_SIZE, clint);
 *   new Hart({ ..., timer: clint })                          // harts read `time` via clint.mtime()
 *   loop: run a CPU batch, then clint.update(); when idle, sleep until clint.deadlineNs().
 *
 * Register layout (RISC-V ACLINT spec v1.0, §2 MSWI and §3 MTIMER; SiFive CLINT offsets):
 *   +0x0000 + 4*h   MSIP[h]      bit 0 drives mip.MSIP (3)
 *   +0x4000 + 8*h   MTIMECMP[h]  64-bit; mip.MTIP (7) = mtime >= mtimecmp
 *   +0xBFF8         MTIME        64-bit, 10 MHz
 */

import { type SavedState, type Stateful, StateReader } from "../base/state.js";
import { TWO_POW_32 } from "../base/u64.js";
import type { Clock } from "../io/clock.js";
import type { AccessSize, MmioDevice } from "../memory/mmio.js";
import type { HartInterruptSink } from "./irq.js";

export const ACLINT_BASE = 0x02000000;
export const ACLINT_SIZE = 0x10000;
/** The timebase QEMU's virt board advertises in the FDT (`timebase-frequency`). */
export const ACLINT_TIMEBASE_HZ = 10_000_000;

const MSIP_BASE = 0x0000;
const MTIMECMP_BASE = 0x4000;
const MTIME_OFFSET = 0xbff8;
const MIP_MSIP = 3;
const MIP_MTIP = 7;
/** Nanoseconds per 10 MHz tick. */
const NS_PER_TICK = 1e9 / ACLINT_TIMEBASE_HZ;

export interface AclintOptions {
  hartCount: number;
  sink: HartInterruptSink;
  clock: Clock;
  /**
   * The mip bit the timer comparator drives. Default MTIP (7). A board whose built-in SBI runs the
   * supervisor directly may choose STIP (5) so `sbi_set_timer` needs no M-mode trampoline.
   */
  timerBit?: number;
}

/** CLINT: per-hart software interrupt and timer compare registers plus the shared mtime counter. */
export class Aclint implements MmioDevice, Stateful {
  readonly name = "aclint";
  readonly hartCount: number;
  private readonly sink: HartInterruptSink;
  private readonly clock: Clock;
  private readonly timerBit: number;
  private readonly msip: Uint8Array;
  /** mtimecmp halves, kept as uint32 so the full 64-bit value (often all ones) is exact. */
  private readonly cmpLo: Uint32Array;
  private readonly cmpHi: Uint32Array;
  /** Last MTIP level driven per hart, so update() only signals edges. */
  private readonly mtip: Uint8Array;
  /** mtime = floor(clock.nowNs() / 100) + offset; writes to mtime and restore adjust the offset. */
  private offset = 0;
  /** High half latched by a read of the low half, so a split 64-bit load is never torn. */
  private latchedHi = 0;
  private latchValid = false;

  constructor(opts: AclintOptions) {
    if (!Number.isInteger(opts.hartCount) || opts.hartCount < 1 || opts.hartCount > 4095) {
      throw new Error(`ACLINT hart count must be 1..4095, got ${opts.hartCount}`);
    }
    this.hartCount = opts.hartCount;
    this.sink = opts.sink;
    this.clock = opts.clock;
    this.timerBit = opts.timerBit ?? MIP_MTIP;
    this.msip = new Uint8Array(this.hartCount);
    this.cmpLo = new Uint32Array(this.hartCount).fill(0xffffffff);
    this.cmpHi = new Uint32Array(this.hartCount).fill(0xffffffff);
    this.mtip = new Uint8Array(this.hartCount);
  }

  /** Current mtime in 10 MHz ticks (the harts' `time` CSR). */
  mtime(): number {
    return Math.floor(this.clock.nowNs() / NS_PER_TICK) + this.offset;
  }

  /** Set mtime (as a guest write to MTIME does) and re-evaluate every comparator. */
  setMtime(ticks: number): void {
    this.offset = ticks - Math.floor(this.clock.nowNs() / NS_PER_TICK);
    this.update();
  }

  /** mtimecmp of a hart as a number (values above 2^53 are rounded, which never changes a comparison with mtime). */
  mtimecmp(hartId: number): number {
    return this.cmpHi[hartId] * TWO_POW_32 + this.cmpLo[hartId];
  }

  /** Set a hart's mtimecmp from a 64-bit value given as halves (for an SBI set_timer). */
  setMtimecmp(hartId: number, lo: number, hi: number): void {
    this.cmpLo[hartId] = lo >>> 0;
    this.cmpHi[hartId] = hi >>> 0;
    this.updateHart(hartId, this.mtime());
  }

  /** Re-evaluate MTIP for every hart; the machine calls this between CPU batches. */
  update(): void {
    const now = this.mtime();
    for (let h = 0; h < this.hartCount; h++) this.updateHart(h, now);
  }

  /** Alias of update(), for run loops that think in ticks. */
  tick(): void {
    this.update();
  }

  /** The earliest mtimecmp (ticks) among harts whose timer has not fired yet; Infinity when none is armed. */
  nextDeadline(): number {
    let best = Number.POSITIVE_INFINITY;
    for (let h = 0; h < this.hartCount; h++) {
      if (this.mtip[h] !== 0) continue;
      const c = this.mtimecmp(h);
      // Compare values beyond 2^53 ticks (~28 years) mean "disarmed" (Linux writes all ones).
      if (c < best && c <= Number.MAX_SAFE_INTEGER) best = c;
    }
    return best;
  }

  /** The host monotonic time (ns) at which nextDeadline() is reached; Infinity when none is armed. */
  deadlineNs(): number {
    const d = this.nextDeadline();
    if (d === Number.POSITIVE_INFINITY) return d;
    return (d - this.offset) * NS_PER_TICK;
  }

  read(offset: number, size: AccessSize): number {
    if (offset < MTIMECMP_BASE) {
      const h = (offset - MSIP_BASE) >>> 2;
      if (h >= this.hartCount) return 0;
      return (offset & 3) === 0 ? this.msip[h] : 0;
    }
    if (offset >= MTIME_OFFSET && offset < MTIME_OFFSET + 8) {
      return this.readMtime(offset - MTIME_OFFSET, size);
    }
    if (offset < MTIME_OFFSET) {
      const rel = offset - MTIMECMP_BASE;
      const h = rel >>> 3;
      if (h >= this.hartCount) return 0;
      return sub32(rel & 7, size, this.cmpLo[h], this.cmpHi[h]);
    }
    return 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset < MTIMECMP_BASE) {
      const h = (offset - MSIP_BASE) >>> 2;
      if (h >= this.hartCount || (offset & 3) !== 0) return;
      // ACLINT §2.1: only bit 0 of MSIP is writable; the rest read as zero.
      const level = value & 1;
      if (this.msip[h] !== level) {
        this.msip[h] = level;
        this.sink.setPending(h, MIP_MSIP, level === 1);
      }
      return;
    }
    if (offset >= MTIME_OFFSET && offset < MTIME_OFFSET + 8) {
      const now = this.mtime();
      const lo = now % TWO_POW_32;
      const hi = Math.floor(now / TWO_POW_32);
      const [nlo, nhi] = merge32(offset - MTIME_OFFSET, size, value, lo, hi);
      this.setMtime(nhi * TWO_POW_32 + nlo);
      return;
    }
    if (offset < MTIME_OFFSET) {
      const rel = offset - MTIMECMP_BASE;
      const h = rel >>> 3;
      if (h >= this.hartCount) return;
      const [nlo, nhi] = merge32(rel & 7, size, value, this.cmpLo[h], this.cmpHi[h]);
      this.cmpLo[h] = nlo;
      this.cmpHi[h] = nhi;
      this.updateHart(h, this.mtime());
    }
  }

  save(): SavedState {
    return {
      kind: "aclint",
      version: 1,
      hartCount: this.hartCount,
      mtime: this.mtime(),
      msip: this.msip.slice(),
      mtimecmpLo: this.cmpLo.slice(),
      mtimecmpHi: this.cmpHi.slice(),
    };
  }

  /** Every field is checked (sizes, 0/1 msip bits, a non-negative mtime) before anything changes. */
  restore(state: SavedState): void {
    const r = new StateReader(state, "aclint", "aclint", 1);
    r.int("hartCount", this.hartCount, this.hartCount);
    const msip = r.typedInRange("msip", Uint8Array, this.hartCount, 0, 1);
    const lo = r.typed("mtimecmpLo", Uint32Array, this.hartCount);
    const hi = r.typed("mtimecmpHi", Uint32Array, this.hartCount);
    const mtime = r.int("mtime", 0, Number.MAX_SAFE_INTEGER);
    r.done();
    this.msip.set(msip);
    this.cmpLo.set(lo);
    this.cmpHi.set(hi);
    // Keep guest time continuous across save/restore: mtime resumes from the saved value.
    this.setMtime(mtime);
    for (let h = 0; h < this.hartCount; h++) this.sink.setPending(h, MIP_MSIP, this.msip[h] === 1);
    this.latchValid = false;
  }

  private readMtime(rel: number, size: AccessSize): number {
    if (rel === 4 && this.latchValid) {
      // Second half of a split 64-bit load: return the half latched with the low word.
      this.latchValid = false;
      return this.latchedHi;
    }
    const now = this.mtime();
    const lo = now % TWO_POW_32;
    const hi = Math.floor(now / TWO_POW_32) >>> 0;
    if (rel === 0 && size === 4) {
      this.latchedHi = hi;
      this.latchValid = true;
    } else {
      this.latchValid = false;
    }
    return sub32(rel, size, lo, hi);
  }

  private updateHart(h: number, now: number): void {
    const level = now >= this.mtimecmp(h) ? 1 : 0;
    if (this.mtip[h] !== level) {
      this.mtip[h] = level;
      this.sink.setPending(h, this.timerBit, level === 1);
    }
  }
}

/** Extract a 1/2/4-byte field at byte offset `rel` (0..7) of a 64-bit value held as halves. */
function sub32(rel: number, size: AccessSize, lo: number, hi: number): number {
  const word = rel < 4 ? lo : hi;
  const shift = (rel & 3) * 8;
  if (size === 4) return word >>> 0;
  const mask = size === 2 ? 0xffff : 0xff;
  return (word >>> shift) & mask;
}

/** Merge a 1/2/4-byte write at byte offset `rel` into a 64-bit value held as halves. */
function merge32(rel: number, size: AccessSize, value: number, lo: number, hi: number): [number, number] {
  const shift = (rel & 3) * 8;
  const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  const put = (word: number): number => ((word & ~(mask << shift)) | ((value & mask) << shift)) >>> 0;
  return rel < 4 ? [put(lo), hi >>> 0] : [lo >>> 0, put(hi)];
}
