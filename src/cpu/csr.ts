/**
 * Control and status register access (privileged spec 1.12, chapters 2–4; Zicntr; Sstc; F's fcsr).
 * An unimplemented CSR is illegal, because firmware and Linux probe CSRs by catching that trap.
 */
import { TWO_POW_32 } from "../base/u64.js";
import {
  CSR_CYCLE,
  CSR_FCSR,
  CSR_FFLAGS,
  CSR_FRM,
  CSR_HPMCOUNTER3,
  CSR_INSTRET,
  CSR_MARCHID,
  CSR_MCAUSE,
  CSR_MCONFIGPTR,
  CSR_MCOUNTEREN,
  CSR_MCOUNTINHIBIT,
  CSR_MCYCLE,
  CSR_MEDELEG,
  CSR_MENVCFG,
  CSR_MEPC,
  CSR_MHARTID,
  CSR_MHPMCOUNTER3,
  CSR_MHPMEVENT3,
  CSR_MIDELEG,
  CSR_MIE,
  CSR_MIMPID,
  CSR_MINSTRET,
  CSR_MIP,
  CSR_MISA,
  CSR_MSCRATCH,
  CSR_MSTATUS,
  CSR_MTVAL,
  CSR_MTVEC,
  CSR_MVENDORID,
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  CSR_SATP,
  CSR_SCAUSE,
  CSR_SCOUNTEREN,
  CSR_SENVCFG,
  CSR_SEPC,
  CSR_SIE,
  CSR_SIP,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_STIMECMP,
  CSR_STVAL,
  CSR_STVEC,
  CSR_TIME,
  CSR_TINFO,
  CSR_TSELECT,
  HPM_COUNT,
  PMPADDR_COUNT,
  PMPCFG_COUNT,
} from "../isa/riscv/csr-names.js";
import {
  ALL_INTERRUPTS,
  COUNTEREN_TM,
  MEDELEG_WRITABLE,
  MENVCFG_HI_STCE,
  MENVCFG_LO_WRITABLE,
  MIP_SEIP,
  MIP_SSIP,
  MIP_STIP,
  MISA_HI,
  MISA_LO,
  MSTATUS_FS,
  MSTATUS_MPP,
  MSTATUS_MPRV,
  MSTATUS_MXR,
  MSTATUS_SUM,
  MSTATUS_TVM,
  MSTATUS_WRITABLE,
  PRIV_M,
  PRIV_S,
  PRIV_U,
  S_INTERRUPTS,
  SSTATUS_MASK,
} from "./csr-bits.js";
import type { HartState } from "./hart-state.js";
import { pmpRecompute } from "./pmp.js";

/** True when the F/D state is Off, which makes fflags/frm/fcsr inaccessible (unprivileged spec 11.2, privileged 3.1.6.6). */
function fpOff(st: HartState): boolean {
  return (st.mstatus & MSTATUS_FS) === 0;
}

/** Counter CSRs below M are gated by mcounteren, and in U also by scounteren (spec 3.1.11, 4.1.5). */
function counterAllowed(st: HartState, bit: number): boolean {
  if (st.priv < PRIV_M && ((st.mcounteren >>> bit) & 1) === 0) return false;
  if (st.priv === PRIV_U && ((st.scounteren >>> bit) & 1) === 0) return false;
  return true;
}

function setNum(st: HartState, v: number): void {
  st.tmpLo = v | 0;
  st.tmpHi = Math.floor(v / TWO_POW_32) | 0;
}

/** Cycles are counted as retired instructions; counters are numbers offset by their last written value. */
export function currentInstret(st: HartState): number {
  return st.instret + st.runCount;
}

/**
 * The value of mcycle (which = 0) or minstret (which = 2). Cycles are counted as retired instructions.
 * While mcountinhibit stops a counter it holds its frozen value.
 */
function counterValue(st: HartState, which: number): number {
  if (((st.mcountinhibit >>> which) & 1) !== 0) return which === 0 ? st.cycleFrozen : st.instretFrozen;
  return currentInstret(st) + (which === 0 ? st.cycleOffset : st.instretOffset);
}

/**
 * Write mcycle or minstret. A CSR write replaces the increment of the writing instruction (unprivileged
 * spec 9.1), so the next instruction reads exactly the written value: hence the -1.
 */
function counterWrite(st: HartState, which: number, v: number): void {
  if (((st.mcountinhibit >>> which) & 1) !== 0) {
    if (which === 0) st.cycleFrozen = v;
    else st.instretFrozen = v;
    return;
  }
  const off = v - currentInstret(st) - 1;
  if (which === 0) st.cycleOffset = off;
  else st.instretOffset = off;
}

/**
 * Read a CSR into st.tmpLo/tmpHi. Returns false when the CSR does not exist or is not accessible
 * at the current privilege (the caller raises illegal instruction). Reads have no side effects.
 */
export function csrRead(st: HartState, csr: number): boolean {
  if (((csr >>> 8) & 3) > st.priv) return false;
  st.tmpHi = 0;
  switch (csr) {
    case CSR_FFLAGS:
      if (fpOff(st)) return false;
      st.tmpLo = st.fflags;
      return true;
    case CSR_FRM:
      if (fpOff(st)) return false;
      st.tmpLo = st.frm;
      return true;
    case CSR_FCSR:
      if (fpOff(st)) return false;
      st.tmpLo = (st.frm << 5) | st.fflags;
      return true;
    case CSR_CYCLE:
    case CSR_INSTRET:
      if (!counterAllowed(st, csr & 31)) return false;
      setNum(st, counterValue(st, csr === CSR_CYCLE ? 0 : 2));
      return true;
    case CSR_TIME:
      if (!counterAllowed(st, 1)) return false;
      setNum(st, st.timer.mtime());
      return true;
    case CSR_MCYCLE:
      setNum(st, counterValue(st, 0));
      return true;
    case CSR_MINSTRET:
      setNum(st, counterValue(st, 2));
      return true;
    case CSR_SSTATUS: {
      const v = st.mstatus & SSTATUS_MASK;
      st.tmpLo = v;
      // SD (bit 63) summarises a dirty FS; UXL reads as 64-bit (spec 4.1.1).
      st.tmpHi = 2 | ((v & MSTATUS_FS) === MSTATUS_FS ? 0x80000000 | 0 : 0);
      return true;
    }
    case CSR_MSTATUS:
      st.tmpLo = st.mstatus;
      st.tmpHi = st.mstatusHi | ((st.mstatus & MSTATUS_FS) === MSTATUS_FS ? 0x80000000 | 0 : 0);
      return true;
    case CSR_MISA:
      st.tmpLo = MISA_LO;
      st.tmpHi = MISA_HI | 0;
      return true;
    case CSR_MEDELEG:
      st.tmpLo = st.medeleg;
      return true;
    case CSR_MIDELEG:
      st.tmpLo = st.mideleg;
      return true;
    case CSR_MIE:
      st.tmpLo = st.mie;
      return true;
    case CSR_MIP:
      st.tmpLo = st.mip();
      return true;
    case CSR_SIE:
      st.tmpLo = st.mie & st.mideleg;
      return true;
    case CSR_SIP:
      st.tmpLo = st.mip() & st.mideleg;
      return true;
    case CSR_MCOUNTEREN:
      st.tmpLo = st.mcounteren;
      return true;
    case CSR_SCOUNTEREN:
      st.tmpLo = st.scounteren;
      return true;
    case CSR_MCOUNTINHIBIT:
      st.tmpLo = st.mcountinhibit;
      return true;
    case CSR_MENVCFG:
      st.tmpLo = st.menvcfgLo;
      st.tmpHi = st.menvcfgHi;
      return true;
    case CSR_SENVCFG:
      st.tmpLo = st.senvcfg;
      return true;
    case CSR_STIMECMP:
      // Sstc: below M, access needs both menvcfg.STCE and mcounteren.TM (Sstc spec, "stimecmp").
      if (
        st.priv < PRIV_M &&
        ((st.menvcfgHi & MENVCFG_HI_STCE) === 0 || (st.mcounteren & COUNTEREN_TM) === 0)
      )
        return false;
      st.tmpLo = st.csrLo[csr];
      st.tmpHi = st.csrHi[csr];
      return true;
    case CSR_SATP:
      if (st.priv === PRIV_S && (st.mstatus & MSTATUS_TVM) !== 0) return false;
      st.tmpLo = st.satpLo;
      st.tmpHi = st.satpHi;
      return true;
    case CSR_MHARTID:
      st.tmpLo = st.hartId;
      return true;
    case CSR_MVENDORID:
    case CSR_MARCHID:
    case CSR_MIMPID:
    case CSR_MCONFIGPTR:
      st.tmpLo = 0;
      return true;
    case CSR_STVEC:
    case CSR_SSCRATCH:
    case CSR_SEPC:
    case CSR_SCAUSE:
    case CSR_STVAL:
    case CSR_MTVEC:
    case CSR_MSCRATCH:
    case CSR_MEPC:
    case CSR_MCAUSE:
    case CSR_MTVAL:
      st.tmpLo = st.csrLo[csr];
      st.tmpHi = st.csrHi[csr];
      return true;
  }
  if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + PMPCFG_COUNT) {
    // RV64 has only the even pmpcfg registers (spec 3.7.1).
    if (csr & 1) return false;
    const base = (csr - CSR_PMPCFG0) * 4;
    const c = st.pmpcfg;
    st.tmpLo = c[base] | (c[base + 1] << 8) | (c[base + 2] << 16) | (c[base + 3] << 24);
    st.tmpHi = c[base + 4] | (c[base + 5] << 8) | (c[base + 6] << 16) | (c[base + 7] << 24);
    return true;
  }
  if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + PMPADDR_COUNT) {
    st.tmpLo = st.pmpaddrLo[csr - CSR_PMPADDR0];
    st.tmpHi = st.pmpaddrHi[csr - CSR_PMPADDR0];
    return true;
  }
  // Sdtrig with zero triggers: tselect reads 0, tdata1 reads 0 (type 0 = no trigger), tinfo says only
  // type 0 exists (debug spec 0.13/1.0, 5.7). Debuggers and test suites probe these rather than trapping.
  if (csr >= CSR_TSELECT && csr <= CSR_TINFO) {
    st.tmpLo = csr === CSR_TINFO ? 1 : 0;
    return true;
  }
  // Unimplemented hardware performance counters and their event selectors read as zero (spec 3.1.10).
  if (
    (csr >= CSR_MHPMCOUNTER3 && csr < CSR_MHPMCOUNTER3 + HPM_COUNT) ||
    (csr >= CSR_MHPMEVENT3 && csr < CSR_MHPMEVENT3 + HPM_COUNT)
  ) {
    st.tmpLo = 0;
    return true;
  }
  if (csr >= CSR_HPMCOUNTER3 && csr < CSR_HPMCOUNTER3 + HPM_COUNT) {
    if (!counterAllowed(st, csr & 31)) return false;
    st.tmpLo = 0;
    return true;
  }
  return false;
}

/**
 * Write a CSR (the caller has checked existence with csrRead and that the CSR is not read-only).
 * Fields are WARL: illegal values are ignored or legalised as the comments say.
 */
export function csrWrite(st: HartState, csr: number, lo: number, hi: number): void {
  switch (csr) {
    case CSR_FFLAGS:
      st.fflags = lo & 0x1f;
      st.mstatus |= MSTATUS_FS;
      return;
    case CSR_FRM:
      st.frm = lo & 7;
      st.mstatus |= MSTATUS_FS;
      return;
    case CSR_FCSR:
      st.fflags = lo & 0x1f;
      st.frm = (lo >>> 5) & 7;
      st.mstatus |= MSTATUS_FS;
      return;
    case CSR_MCYCLE:
      counterWrite(st, 0, (hi >>> 0) * TWO_POW_32 + (lo >>> 0));
      return;
    case CSR_MINSTRET:
      counterWrite(st, 2, (hi >>> 0) * TWO_POW_32 + (lo >>> 0));
      return;
    case CSR_MSTATUS:
      writeMstatus(st, (st.mstatus & ~MSTATUS_WRITABLE) | (lo & MSTATUS_WRITABLE));
      return;
    case CSR_SSTATUS:
      writeMstatus(st, (st.mstatus & ~SSTATUS_MASK) | (lo & SSTATUS_MASK));
      return;
    case CSR_MEDELEG:
      st.medeleg = lo & MEDELEG_WRITABLE;
      return;
    case CSR_MIDELEG:
      st.mideleg = lo & S_INTERRUPTS;
      st.breakLoop = true;
      return;
    case CSR_MIE:
      st.mie = lo & ALL_INTERRUPTS;
      st.breakLoop = true;
      return;
    case CSR_SIE:
      st.mie = (st.mie & ~st.mideleg) | (lo & st.mideleg);
      st.breakLoop = true;
      return;
    case CSR_MIP: {
      // SSIP, STIP and SEIP are writable by M-mode; STIP is read-only while Sstc drives it (Sstc spec 3.1).
      let mask = MIP_SSIP | MIP_STIP | MIP_SEIP;
      if ((st.menvcfgHi & MENVCFG_HI_STCE) !== 0) mask &= ~MIP_STIP;
      st.mipSoft = (st.mipSoft & ~mask) | (lo & mask);
      st.breakLoop = true;
      return;
    }
    case CSR_SIP: {
      // Only SSIP is writable from S-mode, and only when delegated (spec 4.1.3).
      const mask = MIP_SSIP & st.mideleg;
      st.mipSoft = (st.mipSoft & ~mask) | (lo & mask);
      st.breakLoop = true;
      return;
    }
    case CSR_MCOUNTEREN:
      st.mcounteren = lo & 7;
      return;
    case CSR_SCOUNTEREN:
      st.scounteren = lo & 7;
      return;
    case CSR_MCOUNTINHIBIT: {
      // Freeze or resume CY (bit 0) and IR (bit 2) at their current values (spec 3.1.13).
      const next = lo & 5;
      for (const bit of [0, 2]) {
        const was = (st.mcountinhibit >>> bit) & 1;
        const now = (next >>> bit) & 1;
        if (was === now) continue;
        if (now) {
          const v = counterValue(st, bit);
          st.mcountinhibit |= 1 << bit;
          counterWrite(st, bit, v);
        } else {
          const v = counterValue(st, bit);
          st.mcountinhibit &= ~(1 << bit);
          counterWrite(st, bit, v);
        }
      }
      return;
    }
    case CSR_MENVCFG:
      st.menvcfgLo = lo & MENVCFG_LO_WRITABLE;
      st.menvcfgHi = hi & MENVCFG_HI_STCE;
      st.breakLoop = true;
      return;
    case CSR_SENVCFG:
      st.senvcfg = lo & 1;
      return;
    case CSR_STIMECMP:
      st.csrLo[csr] = lo;
      st.csrHi[csr] = hi;
      st.breakLoop = true;
      return;
    case CSR_SATP:
      writeSatp(st, lo, hi);
      return;
    case CSR_MTVEC:
    case CSR_STVEC:
      // MODE values 2 and 3 are reserved: legalise to direct mode (WARL, spec 3.1.7).
      st.csrLo[csr] = (lo & 3) >= 2 ? lo & ~3 : lo;
      st.csrHi[csr] = hi;
      return;
    case CSR_MEPC:
    case CSR_SEPC:
      // With C, only bit 0 is zero (spec 3.1.14).
      st.csrLo[csr] = lo & ~1;
      st.csrHi[csr] = hi;
      return;
    case CSR_SSCRATCH:
    case CSR_MSCRATCH:
    case CSR_SCAUSE:
    case CSR_MCAUSE:
    case CSR_STVAL:
    case CSR_MTVAL:
      st.csrLo[csr] = lo;
      st.csrHi[csr] = hi;
      return;
  }
  if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + PMPCFG_COUNT) {
    const base = (csr - CSR_PMPCFG0) * 4;
    for (let i = 0; i < 8; i++) {
      if ((st.pmpcfg[base + i] & 0x80) !== 0) continue; // locked entries ignore writes (spec 3.7.1.2)
      const byte = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
      // R=0, W=1 is reserved: legalise by clearing W.
      st.pmpcfg[base + i] = (byte & 3) === 2 ? byte & ~2 : byte & 0x9f;
    }
    pmpChanged(st);
    return;
  }
  if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + PMPADDR_COUNT) {
    const n = csr - CSR_PMPADDR0;
    if ((st.pmpcfg[n] & 0x80) !== 0) return;
    // A locked TOR entry also locks the address register below it, its range's bottom (spec 3.7.1.2).
    if (n + 1 < PMPADDR_COUNT && (st.pmpcfg[n + 1] & 0x98) === 0x88) return;
    // pmpaddr holds bits 55:2 of the address: 54 bits (spec 3.7.1.1).
    st.pmpaddrLo[n] = lo;
    st.pmpaddrHi[n] = hi & 0x3fffff;
    pmpChanged(st);
  }
  // Read-as-zero counters and event selectors ignore writes.
}

/** New PMP ranges: decode them, and drop cached translations that were checked against the old ones. */
function pmpChanged(st: HartState): void {
  pmpRecompute(st);
  st.flushTlb();
  st.breakLoop = true;
}

function writeMstatus(st: HartState, v: number): void {
  // MPP=2 is reserved: keep the previous value (WARL).
  if ((v & MSTATUS_MPP) >>> 11 === 2) v = (v & ~MSTATUS_MPP) | (st.mstatus & MSTATUS_MPP);
  const translationBits = MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_MPP;
  if (((v ^ st.mstatus) & translationBits) !== 0) st.flushTlb();
  st.mstatus = v;
  st.breakLoop = true;
}

/** satp (spec 4.1.11): writes selecting an unsupported MODE have no effect, which is how Linux probes Sv57/Sv48. */
function writeSatp(st: HartState, lo: number, hi: number): void {
  const mode = hi >>> 28;
  if (mode !== 0 && mode !== 8 && mode !== 9) return;
  // ASIDLEN is 0: ASID bits read as zero, so Linux flushes on every address-space switch.
  const ppnHi = hi & 0xfff;
  st.satpLo = lo;
  st.satpHi = (mode << 28) | ppnHi;
  st.satpMode = mode;
  st.satpRoot = (ppnHi * TWO_POW_32 + (lo >>> 0)) * 4096;
  st.flushTlb();
  st.breakLoop = true;
}

/** Restore-time helper: recompute the decoded satp fields. */
export function reloadSatp(st: HartState): void {
  writeSatp(st, st.satpLo, st.satpHi);
}
