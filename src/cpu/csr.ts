/**
 * Control and status register access (privileged spec 1.12, chapters 2–4; Zicntr; Sstc; F's fcsr).
 * An unimplemented CSR is illegal, because firmware and Linux probe CSRs by catching that trap.
 */
import {
  ALL_INTERRUPTS,
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

// CSR numbers (privileged spec table 2.2–2.5).
const FFLAGS = 0x001;
const FRM = 0x002;
const FCSR = 0x003;
const SSTATUS = 0x100;
const SIE = 0x104;
const STVEC = 0x105;
const SCOUNTEREN = 0x106;
const SENVCFG = 0x10a;
const SSCRATCH = 0x140;
const SEPC = 0x141;
const SCAUSE = 0x142;
const STVAL = 0x143;
const SIP = 0x144;
const STIMECMP = 0x14d;
const SATP = 0x180;
const MSTATUS = 0x300;
const MISA = 0x301;
const MEDELEG = 0x302;
const MIDELEG = 0x303;
const MIE = 0x304;
const MTVEC = 0x305;
const MCOUNTEREN = 0x306;
const MENVCFG = 0x30a;
const MCOUNTINHIBIT = 0x320;
const MSCRATCH = 0x340;
const MEPC = 0x341;
const MCAUSE = 0x342;
const MTVAL = 0x343;
const MIP = 0x344;
const MCYCLE = 0xb00;
const MINSTRET = 0xb02;
const CYCLE = 0xc00;
const TIME = 0xc01;
const INSTRET = 0xc02;
const MVENDORID = 0xf11;
const MHARTID = 0xf14;
const MCONFIGPTR = 0xf15;

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
  st.tmpHi = Math.floor(v / 4294967296) | 0;
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
    case FFLAGS:
      if (fpOff(st)) return false;
      st.tmpLo = st.fflags;
      return true;
    case FRM:
      if (fpOff(st)) return false;
      st.tmpLo = st.frm;
      return true;
    case FCSR:
      if (fpOff(st)) return false;
      st.tmpLo = (st.frm << 5) | st.fflags;
      return true;
    case CYCLE:
    case INSTRET:
      if (!counterAllowed(st, csr & 31)) return false;
      setNum(st, counterValue(st, csr === CYCLE ? 0 : 2));
      return true;
    case TIME:
      if (!counterAllowed(st, 1)) return false;
      setNum(st, st.timer.mtime());
      return true;
    case MCYCLE:
      setNum(st, counterValue(st, 0));
      return true;
    case MINSTRET:
      setNum(st, counterValue(st, 2));
      return true;
    case SSTATUS: {
      const v = st.mstatus & SSTATUS_MASK;
      st.tmpLo = v;
      // SD (bit 63) summarises a dirty FS; UXL reads as 64-bit (spec 4.1.1).
      st.tmpHi = 2 | ((v & MSTATUS_FS) === MSTATUS_FS ? 0x80000000 | 0 : 0);
      return true;
    }
    case MSTATUS:
      st.tmpLo = st.mstatus;
      st.tmpHi = st.mstatusHi | ((st.mstatus & MSTATUS_FS) === MSTATUS_FS ? 0x80000000 | 0 : 0);
      return true;
    case MISA:
      st.tmpLo = MISA_LO;
      st.tmpHi = MISA_HI | 0;
      return true;
    case MEDELEG:
      st.tmpLo = st.medeleg;
      return true;
    case MIDELEG:
      st.tmpLo = st.mideleg;
      return true;
    case MIE:
      st.tmpLo = st.mie;
      return true;
    case MIP:
      st.tmpLo = st.mip();
      return true;
    case SIE:
      st.tmpLo = st.mie & st.mideleg;
      return true;
    case SIP:
      st.tmpLo = st.mip() & st.mideleg;
      return true;
    case MCOUNTEREN:
      st.tmpLo = st.mcounteren;
      return true;
    case SCOUNTEREN:
      st.tmpLo = st.scounteren;
      return true;
    case MCOUNTINHIBIT:
      st.tmpLo = st.mcountinhibit;
      return true;
    case MENVCFG:
      st.tmpLo = st.menvcfgLo;
      st.tmpHi = st.menvcfgHi;
      return true;
    case SENVCFG:
      st.tmpLo = st.senvcfg;
      return true;
    case STIMECMP:
      // Sstc: below M, access needs both menvcfg.STCE and mcounteren.TM (Sstc spec, "stimecmp").
      if (st.priv < PRIV_M && ((st.menvcfgHi & MENVCFG_HI_STCE) === 0 || (st.mcounteren & 2) === 0))
        return false;
      st.tmpLo = st.csrLo[csr];
      st.tmpHi = st.csrHi[csr];
      return true;
    case SATP:
      if (st.priv === PRIV_S && (st.mstatus & MSTATUS_TVM) !== 0) return false;
      st.tmpLo = st.satpLo;
      st.tmpHi = st.satpHi;
      return true;
    case MHARTID:
      st.tmpLo = st.hartId;
      return true;
    case MVENDORID:
    case 0xf12: // marchid
    case 0xf13: // mimpid
    case MCONFIGPTR:
      st.tmpLo = 0;
      return true;
    case STVEC:
    case SSCRATCH:
    case SEPC:
    case SCAUSE:
    case STVAL:
    case MTVEC:
    case MSCRATCH:
    case MEPC:
    case MCAUSE:
    case MTVAL:
      st.tmpLo = st.csrLo[csr];
      st.tmpHi = st.csrHi[csr];
      return true;
  }
  if (csr >= 0x3a0 && csr <= 0x3af) {
    // RV64 has only the even pmpcfg registers (spec 3.7.1).
    if (csr & 1) return false;
    const base = (csr - 0x3a0) * 4;
    const c = st.pmpcfg;
    st.tmpLo = c[base] | (c[base + 1] << 8) | (c[base + 2] << 16) | (c[base + 3] << 24);
    st.tmpHi = c[base + 4] | (c[base + 5] << 8) | (c[base + 6] << 16) | (c[base + 7] << 24);
    return true;
  }
  if (csr >= 0x3b0 && csr <= 0x3ef) {
    st.tmpLo = st.pmpaddrLo[csr - 0x3b0];
    st.tmpHi = st.pmpaddrHi[csr - 0x3b0];
    return true;
  }
  // Sdtrig with zero triggers: tselect reads 0, tdata1 reads 0 (type 0 = no trigger), tinfo says only
  // type 0 exists (debug spec 0.13/1.0, 5.7). Debuggers and test suites probe these rather than trapping.
  if (csr >= 0x7a0 && csr <= 0x7a4) {
    st.tmpLo = csr === 0x7a4 ? 1 : 0;
    return true;
  }
  // Unimplemented hardware performance counters and their event selectors read as zero (spec 3.1.10).
  if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) {
    st.tmpLo = 0;
    return true;
  }
  if (csr >= 0xc03 && csr <= 0xc1f) {
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
    case FFLAGS:
      st.fflags = lo & 0x1f;
      st.mstatus |= MSTATUS_FS;
      return;
    case FRM:
      st.frm = lo & 7;
      st.mstatus |= MSTATUS_FS;
      return;
    case FCSR:
      st.fflags = lo & 0x1f;
      st.frm = (lo >>> 5) & 7;
      st.mstatus |= MSTATUS_FS;
      return;
    case MCYCLE:
      counterWrite(st, 0, (hi >>> 0) * 4294967296 + (lo >>> 0));
      return;
    case MINSTRET:
      counterWrite(st, 2, (hi >>> 0) * 4294967296 + (lo >>> 0));
      return;
    case MSTATUS:
      writeMstatus(st, (st.mstatus & ~MSTATUS_WRITABLE) | (lo & MSTATUS_WRITABLE));
      return;
    case SSTATUS:
      writeMstatus(st, (st.mstatus & ~SSTATUS_MASK) | (lo & SSTATUS_MASK));
      return;
    case MEDELEG:
      st.medeleg = lo & MEDELEG_WRITABLE;
      return;
    case MIDELEG:
      st.mideleg = lo & S_INTERRUPTS;
      st.breakLoop = true;
      return;
    case MIE:
      st.mie = lo & ALL_INTERRUPTS;
      st.breakLoop = true;
      return;
    case SIE:
      st.mie = (st.mie & ~st.mideleg) | (lo & st.mideleg);
      st.breakLoop = true;
      return;
    case MIP: {
      // SSIP, STIP and SEIP are writable by M-mode; STIP is read-only while Sstc drives it (Sstc spec 3.1).
      let mask = MIP_SSIP | MIP_STIP | MIP_SEIP;
      if ((st.menvcfgHi & MENVCFG_HI_STCE) !== 0) mask &= ~MIP_STIP;
      st.mipSoft = (st.mipSoft & ~mask) | (lo & mask);
      st.breakLoop = true;
      return;
    }
    case SIP: {
      // Only SSIP is writable from S-mode, and only when delegated (spec 4.1.3).
      const mask = MIP_SSIP & st.mideleg;
      st.mipSoft = (st.mipSoft & ~mask) | (lo & mask);
      st.breakLoop = true;
      return;
    }
    case MCOUNTEREN:
      st.mcounteren = lo & 7;
      return;
    case SCOUNTEREN:
      st.scounteren = lo & 7;
      return;
    case MCOUNTINHIBIT: {
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
    case MENVCFG:
      st.menvcfgLo = lo & MENVCFG_LO_WRITABLE;
      st.menvcfgHi = hi & MENVCFG_HI_STCE;
      st.breakLoop = true;
      return;
    case SENVCFG:
      st.senvcfg = lo & 1;
      return;
    case STIMECMP:
      st.csrLo[csr] = lo;
      st.csrHi[csr] = hi;
      st.breakLoop = true;
      return;
    case SATP:
      writeSatp(st, lo, hi);
      return;
    case MTVEC:
    case STVEC:
      // MODE values 2 and 3 are reserved: legalise to direct mode (WARL, spec 3.1.7).
      st.csrLo[csr] = (lo & 3) >= 2 ? lo & ~3 : lo;
      st.csrHi[csr] = hi;
      return;
    case MEPC:
    case SEPC:
      // With C, only bit 0 is zero (spec 3.1.14).
      st.csrLo[csr] = lo & ~1;
      st.csrHi[csr] = hi;
      return;
    case SSCRATCH:
    case MSCRATCH:
    case SCAUSE:
    case MCAUSE:
    case STVAL:
    case MTVAL:
      st.csrLo[csr] = lo;
      st.csrHi[csr] = hi;
      return;
  }
  if (csr >= 0x3a0 && csr <= 0x3af) {
    const base = (csr - 0x3a0) * 4;
    for (let i = 0; i < 8; i++) {
      if ((st.pmpcfg[base + i] & 0x80) !== 0) continue; // locked entries ignore writes (spec 3.7.1.2)
      const byte = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
      // R=0, W=1 is reserved: legalise by clearing W.
      st.pmpcfg[base + i] = (byte & 3) === 2 ? byte & ~2 : byte & 0x9f;
    }
    pmpChanged(st);
    return;
  }
  if (csr >= 0x3b0 && csr <= 0x3ef) {
    const n = csr - 0x3b0;
    if ((st.pmpcfg[n] & 0x80) !== 0) return;
    // A locked TOR entry also locks the address register below it, its range's bottom (spec 3.7.1.2).
    if (n + 1 < 64 && (st.pmpcfg[n + 1] & 0x98) === 0x88) return;
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
  st.satpRoot = (ppnHi * 4294967296 + (lo >>> 0)) * 4096;
  st.flushTlb();
  st.breakLoop = true;
}

/** Restore-time helper: recompute the decoded satp fields. */
export function reloadSatp(st: HartState): void {
  writeSatp(st, st.satpLo, st.satpHi);
}
