/** Bit positions and masks of the machine- and supervisor-level CSRs (RISC-V privileged spec 1.12, chapter 3 and 4). */

// mstatus/sstatus fields (privileged spec 3.1.6). Only the low 32 bits are writable; UXL/SXL are fixed to 64-bit.
export const MSTATUS_SIE = 1 << 1;
export const MSTATUS_MIE = 1 << 3;
export const MSTATUS_SPIE = 1 << 5;
export const MSTATUS_MPIE = 1 << 7;
export const MSTATUS_SPP = 1 << 8;
export const MSTATUS_MPP_SHIFT = 11;
export const MSTATUS_MPP = 3 << 11;
export const MSTATUS_FS_SHIFT = 13;
export const MSTATUS_FS = 3 << 13;
export const MSTATUS_MPRV = 1 << 17;
export const MSTATUS_SUM = 1 << 18;
export const MSTATUS_MXR = 1 << 19;
export const MSTATUS_TVM = 1 << 20;
export const MSTATUS_TW = 1 << 21;
export const MSTATUS_TSR = 1 << 22;
/** High word of mstatus: UXL = SXL = 2 (XLEN 64, fixed; spec 3.1.6.2). SD (bit 63) is computed on read. */
export const MSTATUS_HI_XL = (2 << 0) | (2 << 2);
export const MSTATUS_WRITABLE =
  MSTATUS_SIE |
  MSTATUS_MIE |
  MSTATUS_SPIE |
  MSTATUS_MPIE |
  MSTATUS_SPP |
  MSTATUS_MPP |
  MSTATUS_FS |
  MSTATUS_MPRV |
  MSTATUS_SUM |
  MSTATUS_MXR |
  MSTATUS_TVM |
  MSTATUS_TW |
  MSTATUS_TSR;
/** The fields of mstatus that sstatus exposes (spec 4.1.1). */
export const SSTATUS_MASK = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;

// Interrupt bits of mip/mie (spec 3.1.9).
export const IRQ_SSI = 1;
export const IRQ_MSI = 3;
export const IRQ_STI = 5;
export const IRQ_MTI = 7;
export const IRQ_SEI = 9;
export const IRQ_MEI = 11;
export const MIP_SSIP = 1 << IRQ_SSI;
export const MIP_MSIP = 1 << IRQ_MSI;
export const MIP_STIP = 1 << IRQ_STI;
export const MIP_MTIP = 1 << IRQ_MTI;
export const MIP_SEIP = 1 << IRQ_SEI;
export const MIP_MEIP = 1 << IRQ_MEI;
/** Supervisor-level interrupts: the only ones mideleg can delegate (spec 3.1.8). */
export const S_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP;
export const ALL_INTERRUPTS = S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP;

// Exception causes (spec table 3.6).
export const CAUSE_MISALIGNED_FETCH = 0;
export const CAUSE_FETCH_ACCESS = 1;
export const CAUSE_ILLEGAL_INSTRUCTION = 2;
export const CAUSE_BREAKPOINT = 3;
export const CAUSE_MISALIGNED_LOAD = 4;
export const CAUSE_LOAD_ACCESS = 5;
export const CAUSE_MISALIGNED_STORE = 6;
export const CAUSE_STORE_ACCESS = 7;
export const CAUSE_USER_ECALL = 8;
export const CAUSE_SUPERVISOR_ECALL = 9;
export const CAUSE_MACHINE_ECALL = 11;
export const CAUSE_FETCH_PAGE_FAULT = 12;
export const CAUSE_LOAD_PAGE_FAULT = 13;
export const CAUSE_STORE_PAGE_FAULT = 15;
/** Exceptions medeleg can delegate: all defined causes except ecall from M (spec 3.1.8). */
export const MEDELEG_WRITABLE = 0xb3ff;

// Privilege levels.
export const PRIV_U = 0;
export const PRIV_S = 1;
export const PRIV_M = 3;

/** misa: MXL=2 (RV64) in the high word; extensions A C D F I M S U in the low word (spec 3.1.1). */
export const MISA_LO =
  (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
export const MISA_HI = 2 << 30;

// menvcfg (spec 3.1.18, Sstc): FIOM (bit 0) and STCE (bit 63, i.e. bit 31 of the high word) are writable.
export const MENVCFG_LO_WRITABLE = 1;
export const MENVCFG_HI_STCE = 1 << 31;
/** menvcfg.STCE as a 64-bit CSR value, for writeCsr/readCsr callers. */
export const MENVCFG_STCE = 1n << 63n;

// mcounteren/scounteren bits (spec 3.1.11): CY, TM, IR let the lower mode read cycle, time, instret.
export const COUNTEREN_CY = 1 << 0;
export const COUNTEREN_TM = 1 << 1;
export const COUNTEREN_IR = 1 << 2;

// Access types used by the MMU and for choosing fault causes.
export const ACCESS_FETCH = 0;
export const ACCESS_LOAD = 1;
export const ACCESS_STORE = 2;
