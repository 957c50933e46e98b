/**
 * One RISC-V RV64GC hart: the interpreter loop (RISC-V unprivileged spec 20191213 for RV64I/M/A/F/D/C,
 * Zicsr, Zifencei; privileged spec 1.12 for M/S/U, traps and Sv39/Sv48).
 *
 * Hot-path rules: 64-bit values are int32 pairs, no BigInt, no allocation per instruction. Loads and
 * stores hit a direct-mapped TLB whose tag compare also rejects misaligned addresses (TinyEMU's trick),
 * so every miss, fault, MMIO or misaligned access goes to the slow paths in mmu.ts. Compressed
 * instructions expand through a 64K-entry table to their 32-bit equivalents.
 */
import type { SavedState, Stateful } from "../base/state.js";
import { TWO_POW_32 } from "../base/u64.js";
import { RVC_TABLE } from "../isa/riscv/compressed.js";
import { CSR_MIP } from "../isa/riscv/csr-names.js";
import { INSN_EBREAK, INSN_ECALL, INSN_MRET, INSN_SRET, INSN_WFI } from "../isa/riscv/opcodes.js";
import { div32, div64, divu64, mul64, mulh64, mulhsu64, mulhu64, res } from "./alu64.js";
import { csrRead, csrWrite, reloadSatp } from "./csr.js";
import {
  CAUSE_BREAKPOINT,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_MISALIGNED_STORE,
  CAUSE_STORE_ACCESS,
  CAUSE_USER_ECALL,
  MIP_SEIP,
  MSTATUS_FS,
  MSTATUS_TSR,
  MSTATUS_TVM,
  MSTATUS_TW,
  PRIV_M,
  PRIV_S,
  PRIV_U,
} from "./csr-bits.js";
import { executeFp } from "./fpu/execute.js";
import { readHartState, SAVED_CSRS } from "./hart-restore.js";
import { HartState, pairToNum } from "./hart-state.js";
import {
  FETCH_CACHED,
  FETCH_TRAPPED,
  fetchHalfNextPage,
  loadSlow,
  physRead,
  physWrite,
  refillFetch,
  storeSlow,
  translateAmo,
} from "./mmu.js";
import { pmpRecompute } from "./pmp.js";
import { ENTRY_HEAT_MASK, type Translator } from "./translator.js";
import { checkInterrupts, doMret, doSret, raiseException, raiseIllegal } from "./trap.js";

export type { HartOptions, HartTimer } from "./hart-state.js";

export class Hart extends HartState implements Stateful {
  /**
   * Built-in firmware hook: called for ECALL from S-mode. Returning true means the call was handled
   * (the hart then continues after the ECALL); false delivers the exception as usual.
   */
  ecallHook: ((hart: Hart) => boolean) | null = null;

  /** A binary translator to run code with (src/jit plugs in here), or null for the interpreter alone. */
  translator: Translator | null = null;
  /**
   * Execution counters of branch and jump targets, indexed by `(target >>> 1) & ENTRY_HEAT_MASK` (a hash:
   * targets may share a counter). The interpreter counts a target up on every branch or jump to it; once
   * the counter reaches zero the branch ends interpret() (without breakLoop), so the translator can
   * translate the target or run its translation. The translator keeps counters of translated targets
   * positive and of untranslatable ones very negative. Null without a translator: nothing is counted.
   */
  entryHeat: Int32Array | null = null;

  /** Drive an interrupt-pending bit from a device line (ACLINT MSIP/MTIP, PLIC MEIP/SEIP). */
  setMip(bit: number, level: boolean): void {
    if (level) this.mipHw |= 1 << bit;
    else this.mipHw &= ~(1 << bit);
  }

  /**
   * Set or clear a software-writable pending bit of mip (SSIP, STIP, SEIP), as M-mode firmware does when
   * it delivers an IPI. Unlike a read-modify-write through readCsr/writeCsr, this never copies a device's
   * SEIP level into the software bit (privileged spec 3.1.9).
   */
  setSoftwarePending(bit: number, level: boolean): void {
    if (level) this.mipSoft |= 1 << bit;
    else this.mipSoft &= ~(1 << bit);
    this.waitingForInterrupt = this.waitingForInterrupt && (this.mip() & this.mie) === 0;
  }

  /** Read a CSR as M-mode would (for firmware emulation and tests). Undefined when it does not exist. */
  readCsr(csr: number): bigint | undefined {
    const priv = this.priv;
    this.priv = PRIV_M;
    const ok = csrRead(this, csr);
    this.priv = priv;
    if (!ok) return undefined;
    return (BigInt(this.tmpHi >>> 0) << 32n) | BigInt(this.tmpLo >>> 0);
  }

  /** Write a CSR as M-mode would (for firmware emulation and board setup). */
  writeCsr(csr: number, value: bigint): void {
    const u = BigInt.asUintN(64, value);
    const priv = this.priv;
    this.priv = PRIV_M;
    csrWrite(this, csr, Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0);
    this.priv = priv;
  }

  /** Set the privilege level directly (board reset into S-mode with built-in SBI). */
  setPrivilege(priv: number): void {
    this.priv = priv;
    this.invalidateFetch();
  }

  /**
   * Run up to `budget` steps; returns the steps taken: instructions retired, plus one for each trap
   * taken with no instruction retired in between, so the count advances even in a trap storm.
   * `instret` counts retired instructions only. Returns early when the hart executes WFI
   * with nothing pending, or is stopped. Interrupts are checked on entry and whenever an instruction
   * changes state that affects them (CSR writes, xRET), so they are taken precisely between instructions.
   */
  run(budget: number): number {
    if (this.stopped) return 0;
    // Another hart may have run since our last batch: an LR reservation cannot be trusted (spec 8.2 allows SC to fail).
    this.reservation = Number.NaN;
    this.runCount = 0;
    checkInterrupts(this);
    if (this.waitingForInterrupt) {
      if ((this.mip() & this.mie) === 0) return 0;
      this.waitingForInterrupt = false;
    }
    // A return from interpret() that retired nothing (a trap) spends one step of the budget, so a guest
    // stuck in a trap loop still hands control back to the board.
    let n = 0;
    let steps = 0;
    while (n + steps < budget) {
      this.breakLoop = false;
      const before = n;
      n =
        this.translator === null
          ? this.interpret(n, budget - steps)
          : this.translator.execute(n, budget - steps);
      if (n === before) steps++;
      if (this.waitingForInterrupt || this.stopped) break;
      this.runCount = n;
      checkInterrupts(this);
    }
    this.instret += n;
    this.runCount = 0;
    return n + steps;
  }

  /**
   * Interpret from `pc` with `n` steps counted, up to the absolute limit `limit`. Returns the new count; on
   * return `breakLoop` says whether the interpreter stopped for a trap or a state change (not the limit).
   */
  interpretSome(n: number, limit: number): number {
    return this.interpret(n, limit);
  }

  /** The interpreter proper. Runs until `budget` or until `breakLoop` (privilege/translation/interrupt state changed). */
  private interpret(n: number, budget: number): number {
    const x = this.x;
    const ram = this.ram;
    const u8 = ram.u8;
    const i8 = ram.i8;
    const u16 = ram.u16;
    const i16 = ram.i16;
    const i32 = ram.i32;
    const rvc = RVC_TABLE;
    const heat = this.entryHeat;
    const dset = this.tlbSets[this.dataPriv() === PRIV_M ? 2 : this.dataPriv() === PRIV_S ? 1 : 0];
    const ltagLo = dset.load.tagLo;
    const ltagHi = dset.load.tagHi;
    const loff = dset.load.off;
    const stagLo = dset.store.tagLo;
    const stagHi = dset.store.tagHi;
    const soff = dset.store.off;
    // The fetch page, cached in locals: anything that invalidates it (a trap, a privilege or translation
    // change) also ends this call, so they cannot go stale.
    let fStart = this.fetchPageStart;
    let fEnd = this.fetchPageEnd;
    let fOff = this.fetchPageOff;

    while (n < budget) {
      x[0] = 0;
      x[1] = 0;
      const pc = this.pc;
      // ---- fetch ----
      let half: number;
      let insn: number;
      let ilen: number;
      if (pc >= fStart && pc < fEnd) {
        const poff = pc - fStart;
        const hoff = (fOff + poff) >>> 1;
        half = u16[hoff];
        if ((half & 3) !== 3) {
          insn = 0;
        } else if (poff < 4094) {
          insn = half | (u16[hoff + 1] << 16);
        } else {
          const h2 = fetchHalfNextPage(this, pc + 2);
          if (h2 < 0) break;
          insn = half | (h2 << 16);
        }
      } else {
        const r = refillFetch(this);
        if (r === FETCH_TRAPPED) break;
        if (r === FETCH_CACHED) {
          fStart = this.fetchPageStart;
          fEnd = this.fetchPageEnd;
          fOff = this.fetchPageOff;
          continue;
        }
        // Code in a device region (the boot ROM): fetched through the bus, one instruction at a time.
        half = this.tmpLo & 0xffff;
        insn = this.tmpLo;
      }
      if ((half & 3) !== 3) {
        insn = rvc[half];
        ilen = 2;
        if (insn === 0) {
          raiseIllegal(this, half);
          break;
        }
      } else {
        ilen = 4;
      }
      const d = (insn >> 6) & 62;
      const s1 = (insn >> 14) & 62;
      // ---- execute ----
      switch (insn & 0x7f) {
        case 0x13: {
          // OP-IMM
          const imm = insn >> 20;
          const alo = x[s1];
          const ahi = x[s1 + 1];
          switch ((insn >>> 12) & 7) {
            case 0: {
              const sum = (alo >>> 0) + (imm >>> 0);
              x[d] = sum | 0;
              x[d + 1] = (ahi + (imm >> 31) + (sum >= TWO_POW_32 ? 1 : 0)) | 0;
              break;
            }
            case 1: {
              if (insn >>> 26 !== 0) {
                raiseIllegal(this, insn);
                return n;
              }
              shl(x, d, alo, ahi, imm & 63);
              break;
            }
            case 2: {
              const ihi = imm >> 31;
              x[d] = lt64(alo, ahi, imm, ihi) ? 1 : 0;
              x[d + 1] = 0;
              break;
            }
            case 3: {
              const ihi = imm >> 31;
              x[d] = ltu64(alo, ahi, imm, ihi) ? 1 : 0;
              x[d + 1] = 0;
              break;
            }
            case 4:
              x[d] = alo ^ imm;
              x[d + 1] = ahi ^ (imm >> 31);
              break;
            case 5: {
              const top = insn >>> 26;
              if (top === 0) shr(x, d, alo, ahi, imm & 63);
              else if (top === 0x10) sar(x, d, alo, ahi, imm & 63);
              else {
                raiseIllegal(this, insn);
                return n;
              }
              break;
            }
            case 6:
              x[d] = alo | imm;
              x[d + 1] = ahi | (imm >> 31);
              break;
            case 7:
              x[d] = alo & imm;
              x[d + 1] = ahi & (imm >> 31);
              break;
          }
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x03: {
          // LOAD
          const imm = insn >> 20;
          const sum = (x[s1] >>> 0) + (imm >>> 0);
          const lo = sum | 0;
          const hi = (x[s1 + 1] + (imm >> 31) + (sum >= TWO_POW_32 ? 1 : 0)) | 0;
          const f3 = (insn >>> 12) & 7;
          if (f3 === 7) {
            raiseIllegal(this, insn);
            return n;
          }
          const size = 1 << (f3 & 3);
          const ti = (lo >>> 12) & 255;
          let vlo: number;
          let vhi: number;
          if (ltagLo[ti] === (lo & (-4096 | (size - 1))) && ltagHi[ti] === hi) {
            const off = loff[ti] + (lo & 0xfff);
            switch (f3) {
              case 0:
                vlo = i8[off >>> 0];
                vhi = vlo >> 31;
                break;
              case 1:
                vlo = i16[off >>> 1];
                vhi = vlo >> 31;
                break;
              case 2:
                vlo = i32[off >>> 2];
                vhi = vlo >> 31;
                break;
              case 3:
                vlo = i32[off >>> 2];
                vhi = i32[(off >>> 2) + 1];
                break;
              case 4:
                vlo = u8[off >>> 0];
                vhi = 0;
                break;
              case 5:
                vlo = u16[off >>> 1];
                vhi = 0;
                break;
              default:
                vlo = i32[off >>> 2];
                vhi = 0;
                break;
            }
          } else {
            if (!loadSlow(this, lo, hi, size)) return n;
            vlo = this.tmpLo;
            vhi = this.tmpHi;
            switch (f3) {
              case 0:
                vlo = (vlo << 24) >> 24;
                vhi = vlo >> 31;
                break;
              case 1:
                vlo = (vlo << 16) >> 16;
                vhi = vlo >> 31;
                break;
              case 2:
                vhi = vlo >> 31;
                break;
              case 3:
                break;
              default:
                vhi = 0;
            }
          }
          x[d] = vlo;
          x[d + 1] = vhi;
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x23: {
          // STORE
          const imm = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
          const sum = (x[s1] >>> 0) + (imm >>> 0);
          const lo = sum | 0;
          const hi = (x[s1 + 1] + (imm >> 31) + (sum >= TWO_POW_32 ? 1 : 0)) | 0;
          const f3 = (insn >>> 12) & 7;
          if (f3 > 3) {
            raiseIllegal(this, insn);
            return n;
          }
          const s2 = (insn >> 19) & 62;
          const size = 1 << f3;
          const ti = (lo >>> 12) & 255;
          if (stagLo[ti] === (lo & (-4096 | (size - 1))) && stagHi[ti] === hi) {
            const off = soff[ti] + (lo & 0xfff);
            switch (f3) {
              case 0:
                u8[off >>> 0] = x[s2];
                break;
              case 1:
                u16[off >>> 1] = x[s2];
                break;
              case 2:
                i32[off >>> 2] = x[s2];
                break;
              default:
                i32[off >>> 2] = x[s2];
                i32[(off >>> 2) + 1] = x[s2 + 1];
            }
          } else if (!storeSlow(this, lo, hi, size, x[s2], x[s2 + 1])) {
            return n;
          }
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x33: {
          // OP
          const s2 = (insn >> 19) & 62;
          const alo = x[s1];
          const ahi = x[s1 + 1];
          const blo = x[s2];
          const bhi = x[s2 + 1];
          const f7 = insn >>> 25;
          const f3 = (insn >>> 12) & 7;
          if (f7 === 0) {
            switch (f3) {
              case 0: {
                const sum = (alo >>> 0) + (blo >>> 0);
                x[d] = sum | 0;
                x[d + 1] = (ahi + bhi + (sum >= TWO_POW_32 ? 1 : 0)) | 0;
                break;
              }
              case 1:
                shl(x, d, alo, ahi, blo & 63);
                break;
              case 2:
                x[d] = lt64(alo, ahi, blo, bhi) ? 1 : 0;
                x[d + 1] = 0;
                break;
              case 3:
                x[d] = ltu64(alo, ahi, blo, bhi) ? 1 : 0;
                x[d + 1] = 0;
                break;
              case 4:
                x[d] = alo ^ blo;
                x[d + 1] = ahi ^ bhi;
                break;
              case 5:
                shr(x, d, alo, ahi, blo & 63);
                break;
              case 6:
                x[d] = alo | blo;
                x[d + 1] = ahi | bhi;
                break;
              case 7:
                x[d] = alo & blo;
                x[d + 1] = ahi & bhi;
                break;
            }
          } else if (f7 === 0x20 && f3 === 0) {
            x[d] = (alo - blo) | 0;
            x[d + 1] = (ahi - bhi - (alo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
          } else if (f7 === 0x20 && f3 === 5) {
            sar(x, d, alo, ahi, blo & 63);
          } else if (f7 === 1) {
            switch (f3) {
              case 0:
                mul64(alo, ahi, blo, bhi);
                break;
              case 1:
                mulh64(alo, ahi, blo, bhi);
                break;
              case 2:
                mulhsu64(alo, ahi, blo, bhi);
                break;
              case 3:
                mulhu64(alo, ahi, blo, bhi);
                break;
              case 4:
                div64(alo, ahi, blo, bhi, false);
                break;
              case 5:
                divu64(alo, ahi, blo, bhi, false);
                break;
              case 6:
                div64(alo, ahi, blo, bhi, true);
                break;
              default:
                divu64(alo, ahi, blo, bhi, true);
            }
            x[d] = res.lo;
            x[d + 1] = res.hi;
          } else {
            raiseIllegal(this, insn);
            return n;
          }
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x63: {
          // BRANCH
          const s2 = (insn >> 19) & 62;
          const alo = x[s1];
          const ahi = x[s1 + 1];
          const blo = x[s2];
          const bhi = x[s2 + 1];
          let taken: boolean;
          switch ((insn >>> 12) & 7) {
            case 0:
              taken = alo === blo && ahi === bhi;
              break;
            case 1:
              taken = alo !== blo || ahi !== bhi;
              break;
            case 4:
              taken = lt64(alo, ahi, blo, bhi);
              break;
            case 5:
              taken = !lt64(alo, ahi, blo, bhi);
              break;
            case 6:
              taken = ltu64(alo, ahi, blo, bhi);
              break;
            case 7:
              taken = !ltu64(alo, ahi, blo, bhi);
              break;
            default:
              raiseIllegal(this, insn);
              return n;
          }
          if (taken) {
            const imm =
              ((insn >> 31) << 12) |
              (((insn >>> 7) & 1) << 11) |
              (((insn >>> 25) & 0x3f) << 5) |
              (((insn >>> 8) & 0xf) << 1);
            this.pc = pc + imm;
          } else {
            this.pc = pc + ilen;
          }
          n++;
          if (heat !== null && ++heat[(this.pc >>> 1) & ENTRY_HEAT_MASK] >= 0) {
            x[0] = 0;
            x[1] = 0;
            return n;
          }
          continue;
        }
        case 0x3b: {
          // OP-32
          const s2 = (insn >> 19) & 62;
          const a = x[s1];
          const b = x[s2];
          const f7 = insn >>> 25;
          const f3 = (insn >>> 12) & 7;
          let r: number;
          if (f7 === 0 && f3 === 0) r = (a + b) | 0;
          else if (f7 === 0x20 && f3 === 0) r = (a - b) | 0;
          else if (f7 === 0 && f3 === 1) r = a << (b & 31);
          else if (f7 === 0 && f3 === 5) r = (a >>> (b & 31)) | 0;
          else if (f7 === 0x20 && f3 === 5) r = a >> (b & 31);
          else if (f7 === 1 && f3 === 0) r = Math.imul(a, b);
          else if (f7 === 1 && f3 >= 4) r = div32(a, b, f3 >= 6, (f3 & 1) === 1);
          else {
            raiseIllegal(this, insn);
            return n;
          }
          x[d] = r;
          x[d + 1] = r >> 31;
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x1b: {
          // OP-IMM-32
          const a = x[s1];
          const f3 = (insn >>> 12) & 7;
          const top = insn >>> 25;
          const sh = (insn >>> 20) & 31;
          let r: number;
          if (f3 === 0) r = (a + (insn >> 20)) | 0;
          else if (f3 === 1 && top === 0) r = a << sh;
          else if (f3 === 5 && top === 0) r = (a >>> sh) | 0;
          else if (f3 === 5 && top === 0x20) r = a >> sh;
          else {
            raiseIllegal(this, insn);
            return n;
          }
          x[d] = r;
          x[d + 1] = r >> 31;
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x37: {
          // LUI
          const v = insn & 0xfffff000;
          x[d] = v;
          x[d + 1] = v >> 31;
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x17: {
          // AUIPC
          const v = pc + (insn & 0xfffff000);
          x[d] = v | 0;
          x[d + 1] = Math.floor(v / TWO_POW_32) | 0;
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x6f: {
          // JAL
          const imm =
            ((insn >> 31) << 20) |
            (insn & 0xff000) |
            (((insn >>> 20) & 1) << 11) |
            (((insn >>> 21) & 0x3ff) << 1);
          const link = pc + ilen;
          x[d] = link | 0;
          x[d + 1] = Math.floor(link / TWO_POW_32) | 0;
          this.pc = pc + imm;
          n++;
          if (heat !== null && ++heat[(this.pc >>> 1) & ENTRY_HEAT_MASK] >= 0) {
            x[0] = 0;
            x[1] = 0;
            return n;
          }
          continue;
        }
        case 0x67: {
          // JALR: target = (rs1 + imm) & ~1, computed before rd is written (rd may equal rs1).
          if (((insn >>> 12) & 7) !== 0) {
            raiseIllegal(this, insn);
            return n;
          }
          const imm = insn >> 20;
          const sum = (x[s1] >>> 0) + (imm >>> 0);
          const lo = (sum | 0) & ~1;
          const hi = (x[s1 + 1] + (imm >> 31) + (sum >= TWO_POW_32 ? 1 : 0)) | 0;
          const link = pc + ilen;
          x[d] = link | 0;
          x[d + 1] = Math.floor(link / TWO_POW_32) | 0;
          this.pc = pairToNum(lo, hi);
          n++;
          if (heat !== null && ++heat[(this.pc >>> 1) & ENTRY_HEAT_MASK] >= 0) {
            x[0] = 0;
            x[1] = 0;
            return n;
          }
          continue;
        }
        case 0x0f: {
          // MISC-MEM: FENCE and FENCE.I are no-ops for an in-order interpreter without a code cache.
          if (((insn >>> 12) & 7) > 1) {
            raiseIllegal(this, insn);
            return n;
          }
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x2f: {
          if (!this.atomic(insn, d, s1)) return n;
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x73: {
          const r = this.system(insn, d, s1, n, pc, ilen);
          if (r < 0) return n;
          n++;
          if (r > 0) this.breakLoop = true;
          if (this.breakLoop) return n;
          continue;
        }
        case 0x07:
        case 0x27: {
          if (!this.fpLoadStore(insn, d, s1)) return n;
          this.pc = pc + ilen;
          n++;
          continue;
        }
        case 0x43:
        case 0x47:
        case 0x4b:
        case 0x4f:
        case 0x53: {
          // F and D arithmetic: illegal while mstatus.FS is Off (privileged spec 3.1.6.6).
          if ((this.mstatus & MSTATUS_FS) === 0 || !executeFp(this, insn)) {
            raiseIllegal(this, ilen === 2 ? half : insn);
            return n;
          }
          this.mstatus |= MSTATUS_FS;
          this.pc = pc + ilen;
          n++;
          continue;
        }
        default:
          raiseIllegal(this, ilen === 2 ? half : insn);
          return n;
      }
    }
    x[0] = 0;
    x[1] = 0;
    return n;
  }

  /** FLW/FLD/FSW/FSD: raw bit moves; singles are NaN-boxed on load (unprivileged spec 12.2). */
  private fpLoadStore(insn: number, d: number, s1: number): boolean {
    const f3 = (insn >>> 12) & 7;
    if ((this.mstatus & MSTATUS_FS) === 0 || (f3 !== 2 && f3 !== 3)) {
      raiseIllegal(this, insn);
      return false;
    }
    const size = f3 === 2 ? 4 : 8;
    const isLoad = (insn & 0x7f) === 0x07;
    const imm = isLoad ? insn >> 20 : ((insn >> 25) << 5) | ((insn >>> 7) & 31);
    const x = this.x;
    const sum = (x[s1] >>> 0) + (imm >>> 0);
    const lo = sum | 0;
    const hi = (x[s1 + 1] + (imm >> 31) + (sum >= TWO_POW_32 ? 1 : 0)) | 0;
    const f = this.f;
    if (isLoad) {
      if (!loadSlow(this, lo, hi, size)) return false;
      f[d] = this.tmpLo;
      f[d + 1] = size === 4 ? -1 : this.tmpHi;
      this.mstatus |= MSTATUS_FS;
      return true;
    }
    const s2 = (insn >> 19) & 62;
    return storeSlow(this, lo, hi, size, f[s2], f[s2 + 1]);
  }

  /**
   * Execute one A-extension instruction at `hart.pc` with its operands in `x` (the JIT's helper for LR/SC
   * and AMOs, so both engines share one implementation). Returns false when it raised a trap. x0 stays 0.
   */
  executeAtomic(insn: number): boolean {
    const ok = this.atomic(insn, (insn >> 6) & 62, (insn >> 14) & 62);
    this.x[0] = 0;
    this.x[1] = 0;
    return ok;
  }

  /** The A extension (unprivileged spec chapter 8): LR/SC and AMOs, word and doubleword. */
  private atomic(insn: number, d: number, s1: number): boolean {
    const f3 = (insn >>> 12) & 7;
    const f5 = insn >>> 27;
    if (f3 !== 2 && f3 !== 3) {
      raiseIllegal(this, insn);
      return false;
    }
    const x = this.x;
    const size = f3 === 2 ? 4 : 8;
    const lo = x[s1];
    const hi = x[s1 + 1];
    const s2 = (insn >> 19) & 62;
    if (f5 === 2) {
      // LR: a misaligned address is a load-address-misaligned exception (the access must be atomic).
      if ((insn >>> 20) & 31) {
        raiseIllegal(this, insn);
        return false;
      }
      if ((lo & (size - 1)) !== 0) {
        raiseException(this, CAUSE_MISALIGNED_LOAD, lo, hi);
        return false;
      }
      if (!loadSlow(this, lo, hi, size)) return false;
      x[d] = this.tmpLo;
      x[d + 1] = size === 4 ? this.tmpLo >> 31 : this.tmpHi;
      this.reservation = pairToNum(lo, hi);
      return true;
    }
    if ((lo & (size - 1)) !== 0) {
      raiseException(this, CAUSE_MISALIGNED_STORE, lo, hi);
      return false;
    }
    if (f5 === 3) {
      // SC succeeds only with a live reservation on this address; either way the reservation ends.
      const ok = this.reservation === pairToNum(lo, hi);
      this.reservation = Number.NaN;
      if (ok) {
        if (!storeSlow(this, lo, hi, size, x[s2], x[s2 + 1])) return false;
      }
      x[d] = ok ? 0 : 1;
      x[d + 1] = 0;
      return true;
    }
    const pa = translateAmo(this, lo, hi, size);
    if (pa < 0) return false;
    if (!physRead(this, pa, size)) {
      raiseException(this, CAUSE_STORE_ACCESS, lo, hi);
      return false;
    }
    const olo = this.tmpLo;
    const ohi = size === 4 ? olo >> 31 : this.tmpHi;
    const blo = x[s2];
    const bhi = size === 4 ? blo >> 31 : x[s2 + 1];
    let nlo: number;
    let nhi: number;
    switch (f5) {
      case 0: {
        const sum = (olo >>> 0) + (blo >>> 0);
        nlo = sum | 0;
        nhi = (ohi + bhi + (sum >= TWO_POW_32 ? 1 : 0)) | 0;
        break;
      }
      case 1:
        nlo = blo;
        nhi = bhi;
        break;
      case 4:
        nlo = olo ^ blo;
        nhi = ohi ^ bhi;
        break;
      case 8:
        nlo = olo | blo;
        nhi = ohi | bhi;
        break;
      case 12:
        nlo = olo & blo;
        nhi = ohi & bhi;
        break;
      case 16:
      case 20:
      case 24:
      case 28: {
        const signed = f5 < 24;
        const less = signed ? lt64(olo, ohi, blo, bhi) : ltu64(olo, ohi, blo, bhi);
        const takeOld = f5 === 16 || f5 === 24 ? less : !less;
        nlo = takeOld ? olo : blo;
        nhi = takeOld ? ohi : bhi;
        break;
      }
      default:
        raiseIllegal(this, insn);
        return false;
    }
    physWrite(this, pa, size, nlo, nhi);
    x[d] = olo;
    x[d + 1] = ohi;
    return true;
  }

  /**
   * SYSTEM: CSR instructions, ECALL/EBREAK, xRET, WFI, SFENCE.VMA. Returns -1 if a trap was taken
   * (instruction not retired), 1 if the batch must end after it, 0 to continue.
   */
  private system(insn: number, d: number, s1: number, n: number, pc: number, ilen: number): number {
    const f3 = (insn >>> 12) & 7;
    const x = this.x;
    if (f3 === 0) {
      const priv = this.priv;
      if (insn === INSN_ECALL) {
        if (priv === PRIV_S && this.ecallHook !== null) {
          this.runCount = n;
          if (this.ecallHook(this)) {
            this.pc = pc + ilen;
            return 1;
          }
        }
        // ECALL's cause is 8, 9 or 11 by the calling mode: U, S or M (spec table 3.6).
        raiseException(this, CAUSE_USER_ECALL + priv, 0, 0);
        return -1;
      }
      if (insn === INSN_EBREAK) {
        raiseException(this, CAUSE_BREAKPOINT, pc | 0, Math.floor(pc / TWO_POW_32) | 0);
        return -1;
      }
      if (insn === INSN_MRET) {
        if (priv !== PRIV_M) {
          raiseIllegal(this, insn);
          return -1;
        }
        doMret(this);
        return 1;
      }
      if (insn === INSN_SRET) {
        if (priv === PRIV_U || (priv === PRIV_S && (this.mstatus & MSTATUS_TSR) !== 0)) {
          raiseIllegal(this, insn);
          return -1;
        }
        doSret(this);
        return 1;
      }
      if (insn === INSN_WFI) {
        // WFI: illegal in U-mode, and in S-mode when TW is set (spec 3.1.6.5).
        if (priv === PRIV_U || (priv === PRIV_S && (this.mstatus & MSTATUS_TW) !== 0)) {
          raiseIllegal(this, insn);
          return -1;
        }
        this.pc = pc + ilen;
        if ((this.mip() & this.mie) === 0) {
          this.waitingForInterrupt = true;
          return 1;
        }
        return 0;
      }
      if (insn >>> 25 === 0x09 && d === 0) {
        // SFENCE.VMA (spec 4.2.1): rs1 names one page; ASIDs are not implemented (ASIDLEN 0), so rs2 is moot.
        if (priv === PRIV_U || (priv === PRIV_S && (this.mstatus & MSTATUS_TVM) !== 0)) {
          raiseIllegal(this, insn);
          return -1;
        }
        if (s1 === 0) this.flushTlb();
        else this.flushTlbPage(x[s1], x[s1 + 1]);
        this.pc = pc + ilen;
        return 1;
      }
      raiseIllegal(this, insn);
      return -1;
    }
    if (f3 === 4) {
      raiseIllegal(this, insn);
      return -1;
    }
    // Zicsr (unprivileged spec chapter 9). CSRRS/CSRRC with rs1=x0 (or uimm 0) do not write.
    const csr = insn >>> 20;
    const src = s1 >> 1;
    this.runCount = n;
    if (!csrRead(this, csr)) {
      raiseIllegal(this, insn);
      return -1;
    }
    const olo = this.tmpLo;
    const ohi = this.tmpHi;
    // In a CSRRS/CSRRC of mip, SEIP's read-modify-write uses only the software-writable bit, not the
    // PLIC's signal OR'd into the value read (privileged spec 3.1.9); otherwise firmware setting SSIP
    // would latch a device interrupt forever.
    const rmwLo = csr === CSR_MIP ? (olo & ~MIP_SEIP) | (this.mipSoft & MIP_SEIP) : olo;
    const vlo = f3 & 4 ? src : x[s1];
    const vhi = f3 & 4 ? 0 : x[s1 + 1];
    const op = f3 & 3;
    if (op === 1 || src !== 0) {
      if (csr >>> 10 === 3) {
        raiseIllegal(this, insn);
        return -1;
      }
      let nlo = vlo;
      let nhi = vhi;
      if (op === 2) {
        nlo = rmwLo | vlo;
        nhi = ohi | vhi;
      } else if (op === 3) {
        nlo = rmwLo & ~vlo;
        nhi = ohi & ~vhi;
      }
      csrWrite(this, csr, nlo, nhi);
    }
    x[d] = olo;
    x[d + 1] = ohi;
    this.pc = pc + ilen;
    return 0;
  }

  save(): SavedState {
    const csrs: { [k: string]: number[] } = {};
    for (const c of SAVED_CSRS) csrs[c.toString(16)] = [this.csrLo[c], this.csrHi[c]];
    // x0 is hardwired to zero (RISC-V unprivileged spec §2.1); the interpreter lets an instruction with
    // rd = x0 write the slot and re-zeroes it before the next one, so a guest stopped right after such an
    // instruction holds garbage there. The architectural value is what is saved.
    const x = Int32Array.from(this.x);
    x[0] = 0;
    x[1] = 0;
    return {
      kind: "riscv-hart",
      version: 1,
      hartId: this.hartId,
      x,
      f: Int32Array.from(this.f),
      pc: this.pc,
      priv: this.priv,
      fflags: this.fflags,
      frm: this.frm,
      mstatus: this.mstatus,
      mipSoft: this.mipSoft,
      mipHw: this.mipHw,
      mie: this.mie,
      mideleg: this.mideleg,
      medeleg: this.medeleg,
      mcounteren: this.mcounteren,
      scounteren: this.scounteren,
      mcountinhibit: this.mcountinhibit,
      menvcfg: [this.menvcfgLo, this.menvcfgHi],
      senvcfg: this.senvcfg,
      csrs,
      pmpcfg: Uint8Array.from(this.pmpcfg),
      pmpaddrLo: Int32Array.from(this.pmpaddrLo),
      pmpaddrHi: Int32Array.from(this.pmpaddrHi),
      satp: [this.satpLo, this.satpHi],
      instret: this.instret,
      cycleOffset: this.cycleOffset,
      instretOffset: this.instretOffset,
      frozen: [this.cycleFrozen, this.instretFrozen],
      waitingForInterrupt: this.waitingForInterrupt,
      stopped: this.stopped,
    };
  }

  /** Restore a saved hart: every field is checked (readHartState) before anything is assigned. */
  restore(s: SavedState): void {
    const v = readHartState(s, this.hartId);
    this.x.set(v.x);
    this.f.set(v.f);
    this.pc = v.pc;
    this.priv = v.priv;
    this.fflags = v.fflags;
    this.frm = v.frm;
    this.mstatus = v.mstatus;
    this.mipSoft = v.mipSoft;
    this.mipHw = v.mipHw;
    this.mie = v.mie;
    this.mideleg = v.mideleg;
    this.medeleg = v.medeleg;
    this.mcounteren = v.mcounteren;
    this.scounteren = v.scounteren;
    this.mcountinhibit = v.mcountinhibit;
    this.menvcfgLo = v.menvcfgLo;
    this.menvcfgHi = v.menvcfgHi;
    this.senvcfg = v.senvcfg;
    for (const [c, lo, hi] of v.csrs) {
      this.csrLo[c] = lo;
      this.csrHi[c] = hi;
    }
    this.pmpcfg.set(v.pmpcfg);
    this.pmpaddrLo.set(v.pmpaddrLo);
    this.pmpaddrHi.set(v.pmpaddrHi);
    this.satpLo = v.satpLo;
    this.satpHi = v.satpHi;
    reloadSatp(this);
    pmpRecompute(this);
    this.instret = v.instret;
    this.cycleOffset = v.cycleOffset;
    this.instretOffset = v.instretOffset;
    this.cycleFrozen = v.cycleFrozen;
    this.instretFrozen = v.instretFrozen;
    this.waitingForInterrupt = v.waitingForInterrupt;
    this.stopped = v.stopped;
    this.reservation = Number.NaN;
    this.flushTlb();
    this.translator?.reset();
  }
}

/** Signed 64-bit a < b on int32 pairs (SLT, BLT, AMOMIN). */
function lt64(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0);
}

/** Unsigned 64-bit a < b on int32 pairs (SLTU, BLTU, AMOMINU). */
function ltu64(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0);
}

/** x[d] = (alo,ahi) << sh, for sh in 0..63. */
function shl(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  if (sh === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else if (sh < 32) {
    x[d] = lo << sh;
    x[d + 1] = (hi << sh) | (lo >>> (32 - sh));
  } else {
    x[d] = 0;
    x[d + 1] = lo << (sh - 32);
  }
}

/** Logical right shift. */
function shr(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  if (sh === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else if (sh < 32) {
    x[d] = (lo >>> sh) | (hi << (32 - sh));
    x[d + 1] = hi >>> sh;
  } else {
    x[d] = hi >>> (sh - 32);
    x[d + 1] = 0;
  }
}

/** Arithmetic right shift. */
function sar(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  if (sh === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else if (sh < 32) {
    x[d] = (lo >>> sh) | (hi << (32 - sh));
    x[d + 1] = hi >> sh;
  } else {
    x[d] = hi >> (sh - 32);
    x[d + 1] = hi >> 31;
  }
}
