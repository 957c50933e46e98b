/** Trap delivery: exceptions and interrupts, delegation, and the xRET instructions (privileged spec 3.1.6.1, 3.1.8, 3.3.2). */
import { TWO_POW_32 } from "../base/u64.js";
import {
  CSR_MCAUSE,
  CSR_MEPC,
  CSR_MTVAL,
  CSR_MTVEC,
  CSR_SCAUSE,
  CSR_SEPC,
  CSR_STVAL,
  CSR_STVEC,
} from "../isa/riscv/csr-names.js";
import {
  CAUSE_ILLEGAL_INSTRUCTION,
  MIP_MEIP,
  MIP_MSIP,
  MIP_MTIP,
  MIP_SEIP,
  MIP_SSIP,
  MIP_STIP,
  MSTATUS_MIE,
  MSTATUS_MPIE,
  MSTATUS_MPP,
  MSTATUS_MPP_SHIFT,
  MSTATUS_MPRV,
  MSTATUS_SIE,
  MSTATUS_SPIE,
  MSTATUS_SPP,
  PRIV_M,
  PRIV_S,
} from "./csr-bits.js";
import { type HartState, pairToNum } from "./hart-state.js";

/** Interrupt priority order for simultaneous pending interrupts (spec 3.1.9): MEI, MSI, MTI, SEI, SSI, STI. */
const PRIORITY = [MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_SSIP, MIP_STIP];

/** Change privilege: the TLB set in force and the fetch cache depend on it. */
export function setPriv(st: HartState, priv: number): void {
  st.priv = priv;
  st.invalidateFetch();
  st.breakLoop = true;
}

function enterTrap(st: HartState, isInterrupt: boolean, cause: number, tvalLo: number, tvalHi: number): void {
  const epc = st.pc;
  const epcLo = epc | 0;
  const epcHi = Math.floor(epc / TWO_POW_32) | 0;
  const delegated =
    st.priv <= PRIV_S && (isInterrupt ? (st.mideleg >>> cause) & 1 : (st.medeleg >>> cause) & 1) === 1;
  const causeHi = isInterrupt ? 0x80000000 | 0 : 0;
  let vecLo: number;
  let vecHi: number;
  if (delegated) {
    st.csrLo[CSR_SEPC] = epcLo;
    st.csrHi[CSR_SEPC] = epcHi;
    st.csrLo[CSR_SCAUSE] = cause;
    st.csrHi[CSR_SCAUSE] = causeHi;
    st.csrLo[CSR_STVAL] = tvalLo;
    st.csrHi[CSR_STVAL] = tvalHi;
    let s = st.mstatus & ~(MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE);
    if (st.priv === PRIV_S) s |= MSTATUS_SPP;
    if (st.mstatus & MSTATUS_SIE) s |= MSTATUS_SPIE;
    st.mstatus = s;
    vecLo = st.csrLo[CSR_STVEC];
    vecHi = st.csrHi[CSR_STVEC];
    setPriv(st, PRIV_S);
  } else {
    st.csrLo[CSR_MEPC] = epcLo;
    st.csrHi[CSR_MEPC] = epcHi;
    st.csrLo[CSR_MCAUSE] = cause;
    st.csrHi[CSR_MCAUSE] = causeHi;
    st.csrLo[CSR_MTVAL] = tvalLo;
    st.csrHi[CSR_MTVAL] = tvalHi;
    let s = st.mstatus & ~(MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE);
    s |= st.priv << MSTATUS_MPP_SHIFT;
    if (st.mstatus & MSTATUS_MIE) s |= MSTATUS_MPIE;
    st.mstatus = s;
    vecLo = st.csrLo[CSR_MTVEC];
    vecHi = st.csrHi[CSR_MTVEC];
    setPriv(st, PRIV_M);
  }
  // Vectored mode (MODE=1) sends interrupts to BASE + 4*cause; exceptions always go to BASE (spec 3.1.7).
  let target = pairToNum(vecLo & ~3, vecHi);
  if (isInterrupt && (vecLo & 3) === 1) target += 4 * cause;
  st.pc = target;
  st.waitingForInterrupt = false;
}

/** Raise a synchronous exception for the instruction at st.pc; tval is the 64-bit value for xtval. */
export function raiseException(st: HartState, cause: number, tvalLo: number, tvalHi: number): void {
  enterTrap(st, false, cause, tvalLo, tvalHi);
}

/** Raise an illegal-instruction exception; xtval holds the faulting instruction bits (spec 3.1.16). */
export function raiseIllegal(st: HartState, insn: number): void {
  enterTrap(st, false, CAUSE_ILLEGAL_INSTRUCTION, insn | 0, 0);
}

/**
 * Take the highest-priority pending and enabled interrupt, if any. M-level interrupts are enabled below M
 * or with MIE set; delegated ones below S or in S with SIE set (spec 3.1.6.1). Returns true if one was taken.
 */
export function checkInterrupts(st: HartState): boolean {
  const pending = st.mip() & st.mie;
  if (pending === 0) return false;
  const mLevel = pending & ~st.mideleg;
  const sLevel = pending & st.mideleg;
  let enabled = 0;
  if (mLevel !== 0 && (st.priv < PRIV_M || (st.mstatus & MSTATUS_MIE) !== 0)) enabled |= mLevel;
  if (sLevel !== 0 && (st.priv < PRIV_S || (st.priv === PRIV_S && (st.mstatus & MSTATUS_SIE) !== 0))) {
    enabled |= sLevel;
  }
  if (enabled === 0) return false;
  for (const bit of PRIORITY) {
    if ((enabled & bit) !== 0) {
      enterTrap(st, true, 31 - Math.clz32(bit), 0, 0);
      return true;
    }
  }
  return false;
}

/** MRET (spec 3.3.2): restore MIE from MPIE, return to MPP, clear MPRV when leaving M. */
export function doMret(st: HartState): void {
  const mpp = (st.mstatus & MSTATUS_MPP) >>> MSTATUS_MPP_SHIFT;
  let s = st.mstatus & ~(MSTATUS_MIE | MSTATUS_MPP);
  if (st.mstatus & MSTATUS_MPIE) s |= MSTATUS_MIE;
  s |= MSTATUS_MPIE;
  if (mpp !== PRIV_M) s &= ~MSTATUS_MPRV;
  st.mstatus = s;
  st.pc = pairToNum(st.csrLo[CSR_MEPC], st.csrHi[CSR_MEPC]);
  setPriv(st, mpp);
}

/** SRET (spec 3.3.2): restore SIE from SPIE, return to SPP; MPRV clears since the new mode is below M. */
export function doSret(st: HartState): void {
  const spp = (st.mstatus & MSTATUS_SPP) !== 0 ? PRIV_S : 0;
  let s = st.mstatus & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV);
  if (st.mstatus & MSTATUS_SPIE) s |= MSTATUS_SIE;
  s |= MSTATUS_SPIE;
  st.mstatus = s;
  st.pc = pairToNum(st.csrLo[CSR_SEPC], st.csrHi[CSR_SEPC]);
  setPriv(st, spp);
}
