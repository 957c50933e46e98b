/** CSR numbers with their specification names, and lookups between number and name. */

// Numbers from the RISC-V Privileged spec 1.12, §2.2 "CSR Listing" (Tables 2.2–2.6: unprivileged and
// user-level, supervisor-level, hypervisor and VS, machine-level CSRs; debug/trace CSRs of Table 2.6).
// stimecmp/stimecmph come from the Sstc extension (1.0). Numbered families (hpmcounterN, pmpcfgN, ...) are
// given by their first member plus a count, and spelled out in CSR_NAMES.

// Unprivileged floating-point CSRs (Table 2.2; Unprivileged spec §11.2).
export const CSR_FFLAGS = 0x001;
export const CSR_FRM = 0x002;
export const CSR_FCSR = 0x003;

// Unprivileged counters/timers (Table 2.2). hpmcounter3..31 = 0xC03..0xC1F; the *h halves are RV32 only.
export const CSR_CYCLE = 0xc00;
export const CSR_TIME = 0xc01;
export const CSR_INSTRET = 0xc02;
export const CSR_HPMCOUNTER3 = 0xc03;
export const CSR_CYCLEH = 0xc80;
export const CSR_TIMEH = 0xc81;
export const CSR_INSTRETH = 0xc82;
export const CSR_HPMCOUNTER3H = 0xc83;

// Supervisor trap setup, configuration, trap handling, protection and translation, debug (Table 2.3).
export const CSR_SSTATUS = 0x100;
export const CSR_SIE = 0x104;
export const CSR_STVEC = 0x105;
export const CSR_SCOUNTEREN = 0x106;
export const CSR_SENVCFG = 0x10a;
export const CSR_SSCRATCH = 0x140;
export const CSR_SEPC = 0x141;
export const CSR_SCAUSE = 0x142;
export const CSR_STVAL = 0x143;
export const CSR_SIP = 0x144;
/** Sstc extension: supervisor timer compare. */
export const CSR_STIMECMP = 0x14d;
export const CSR_STIMECMPH = 0x15d;
export const CSR_SATP = 0x180;
export const CSR_SCONTEXT = 0x5a8;

// Hypervisor and virtual-supervisor CSRs (Table 2.4), for the H extension.
export const CSR_HSTATUS = 0x600;
export const CSR_HEDELEG = 0x602;
export const CSR_HIDELEG = 0x603;
export const CSR_HIE = 0x604;
export const CSR_HTIMEDELTA = 0x605;
export const CSR_HCOUNTEREN = 0x606;
export const CSR_HGEIE = 0x607;
export const CSR_HENVCFG = 0x60a;
export const CSR_HTIMEDELTAH = 0x615;
export const CSR_HENVCFGH = 0x61a;
export const CSR_HTVAL = 0x643;
export const CSR_HIP = 0x644;
export const CSR_HVIP = 0x645;
export const CSR_HTINST = 0x64a;
export const CSR_HGATP = 0x680;
export const CSR_HCONTEXT = 0x6a8;
export const CSR_HGEIP = 0xe12;
export const CSR_VSSTATUS = 0x200;
export const CSR_VSIE = 0x204;
export const CSR_VSTVEC = 0x205;
export const CSR_VSSCRATCH = 0x240;
export const CSR_VSEPC = 0x241;
export const CSR_VSCAUSE = 0x242;
export const CSR_VSTVAL = 0x243;
export const CSR_VSIP = 0x244;
export const CSR_VSATP = 0x280;

// Machine information registers (Table 2.5).
export const CSR_MVENDORID = 0xf11;
export const CSR_MARCHID = 0xf12;
export const CSR_MIMPID = 0xf13;
export const CSR_MHARTID = 0xf14;
export const CSR_MCONFIGPTR = 0xf15;

// Machine trap setup.
export const CSR_MSTATUS = 0x300;
export const CSR_MISA = 0x301;
export const CSR_MEDELEG = 0x302;
export const CSR_MIDELEG = 0x303;
export const CSR_MIE = 0x304;
export const CSR_MTVEC = 0x305;
export const CSR_MCOUNTEREN = 0x306;
export const CSR_MSTATUSH = 0x310;

// Machine trap handling.
export const CSR_MSCRATCH = 0x340;
export const CSR_MEPC = 0x341;
export const CSR_MCAUSE = 0x342;
export const CSR_MTVAL = 0x343;
export const CSR_MIP = 0x344;
export const CSR_MTINST = 0x34a;
export const CSR_MTVAL2 = 0x34b;

// Machine configuration.
export const CSR_MENVCFG = 0x30a;
export const CSR_MENVCFGH = 0x31a;
export const CSR_MSECCFG = 0x747;
export const CSR_MSECCFGH = 0x757;

// Machine memory protection: pmpcfg0..15 = 0x3A0..0x3AF (odd ones RV32 only), pmpaddr0..63 = 0x3B0..0x3EF.
export const CSR_PMPCFG0 = 0x3a0;
export const PMPCFG_COUNT = 16;
export const CSR_PMPADDR0 = 0x3b0;
export const PMPADDR_COUNT = 64;

// Machine counters/timers: mhpmcounter3..31 = 0xB03..0xB1F, *h = 0xB83..0xB9F (RV32 only).
export const CSR_MCYCLE = 0xb00;
export const CSR_MINSTRET = 0xb02;
export const CSR_MHPMCOUNTER3 = 0xb03;
export const CSR_MCYCLEH = 0xb80;
export const CSR_MINSTRETH = 0xb82;
export const CSR_MHPMCOUNTER3H = 0xb83;

// Machine counter setup: mhpmevent3..31 = 0x323..0x33F.
export const CSR_MCOUNTINHIBIT = 0x320;
export const CSR_MHPMEVENT3 = 0x323;

/** Number of hpmcounter/mhpmcounter/mhpmevent registers (indices 3..31). */
export const HPM_COUNT = 29;

// Debug/trace registers shared with debug mode (Table 2.6) and debug-mode registers.
export const CSR_TSELECT = 0x7a0;
export const CSR_TDATA1 = 0x7a1;
export const CSR_TDATA2 = 0x7a2;
export const CSR_TDATA3 = 0x7a3;
export const CSR_TINFO = 0x7a4;
export const CSR_MCONTEXT = 0x7a8;
export const CSR_DCSR = 0x7b0;
export const CSR_DPC = 0x7b1;
export const CSR_DSCRATCH0 = 0x7b2;
export const CSR_DSCRATCH1 = 0x7b3;

/** CSR number → spec name, for every CSR above including each member of the numbered families. */
export const CSR_NAMES: ReadonlyMap<number, string> = buildNames();

function buildNames(): Map<number, string> {
  const m = new Map<number, string>([
    [CSR_FFLAGS, "fflags"],
    [CSR_FRM, "frm"],
    [CSR_FCSR, "fcsr"],
    [CSR_CYCLE, "cycle"],
    [CSR_TIME, "time"],
    [CSR_INSTRET, "instret"],
    [CSR_CYCLEH, "cycleh"],
    [CSR_TIMEH, "timeh"],
    [CSR_INSTRETH, "instreth"],
    [CSR_SSTATUS, "sstatus"],
    [CSR_SIE, "sie"],
    [CSR_STVEC, "stvec"],
    [CSR_SCOUNTEREN, "scounteren"],
    [CSR_SENVCFG, "senvcfg"],
    [CSR_SSCRATCH, "sscratch"],
    [CSR_SEPC, "sepc"],
    [CSR_SCAUSE, "scause"],
    [CSR_STVAL, "stval"],
    [CSR_SIP, "sip"],
    [CSR_STIMECMP, "stimecmp"],
    [CSR_STIMECMPH, "stimecmph"],
    [CSR_SATP, "satp"],
    [CSR_SCONTEXT, "scontext"],
    [CSR_HSTATUS, "hstatus"],
    [CSR_HEDELEG, "hedeleg"],
    [CSR_HIDELEG, "hideleg"],
    [CSR_HIE, "hie"],
    [CSR_HTIMEDELTA, "htimedelta"],
    [CSR_HCOUNTEREN, "hcounteren"],
    [CSR_HGEIE, "hgeie"],
    [CSR_HENVCFG, "henvcfg"],
    [CSR_HTIMEDELTAH, "htimedeltah"],
    [CSR_HENVCFGH, "henvcfgh"],
    [CSR_HTVAL, "htval"],
    [CSR_HIP, "hip"],
    [CSR_HVIP, "hvip"],
    [CSR_HTINST, "htinst"],
    [CSR_HGATP, "hgatp"],
    [CSR_HCONTEXT, "hcontext"],
    [CSR_HGEIP, "hgeip"],
    [CSR_VSSTATUS, "vsstatus"],
    [CSR_VSIE, "vsie"],
    [CSR_VSTVEC, "vstvec"],
    [CSR_VSSCRATCH, "vsscratch"],
    [CSR_VSEPC, "vsepc"],
    [CSR_VSCAUSE, "vscause"],
    [CSR_VSTVAL, "vstval"],
    [CSR_VSIP, "vsip"],
    [CSR_VSATP, "vsatp"],
    [CSR_MVENDORID, "mvendorid"],
    [CSR_MARCHID, "marchid"],
    [CSR_MIMPID, "mimpid"],
    [CSR_MHARTID, "mhartid"],
    [CSR_MCONFIGPTR, "mconfigptr"],
    [CSR_MSTATUS, "mstatus"],
    [CSR_MISA, "misa"],
    [CSR_MEDELEG, "medeleg"],
    [CSR_MIDELEG, "mideleg"],
    [CSR_MIE, "mie"],
    [CSR_MTVEC, "mtvec"],
    [CSR_MCOUNTEREN, "mcounteren"],
    [CSR_MSTATUSH, "mstatush"],
    [CSR_MSCRATCH, "mscratch"],
    [CSR_MEPC, "mepc"],
    [CSR_MCAUSE, "mcause"],
    [CSR_MTVAL, "mtval"],
    [CSR_MIP, "mip"],
    [CSR_MTINST, "mtinst"],
    [CSR_MTVAL2, "mtval2"],
    [CSR_MENVCFG, "menvcfg"],
    [CSR_MENVCFGH, "menvcfgh"],
    [CSR_MSECCFG, "mseccfg"],
    [CSR_MSECCFGH, "mseccfgh"],
    [CSR_MCYCLE, "mcycle"],
    [CSR_MINSTRET, "minstret"],
    [CSR_MCYCLEH, "mcycleh"],
    [CSR_MINSTRETH, "minstreth"],
    [CSR_MCOUNTINHIBIT, "mcountinhibit"],
    [CSR_TSELECT, "tselect"],
    [CSR_TDATA1, "tdata1"],
    [CSR_TDATA2, "tdata2"],
    [CSR_TDATA3, "tdata3"],
    [CSR_TINFO, "tinfo"],
    [CSR_MCONTEXT, "mcontext"],
    [CSR_DCSR, "dcsr"],
    [CSR_DPC, "dpc"],
    [CSR_DSCRATCH0, "dscratch0"],
    [CSR_DSCRATCH1, "dscratch1"],
  ]);
  for (let i = 0; i < HPM_COUNT; i++) {
    const n = i + 3;
    m.set(CSR_HPMCOUNTER3 + i, `hpmcounter${n}`);
    m.set(CSR_HPMCOUNTER3H + i, `hpmcounter${n}h`);
    m.set(CSR_MHPMCOUNTER3 + i, `mhpmcounter${n}`);
    m.set(CSR_MHPMCOUNTER3H + i, `mhpmcounter${n}h`);
    m.set(CSR_MHPMEVENT3 + i, `mhpmevent${n}`);
  }
  for (let i = 0; i < PMPCFG_COUNT; i++) m.set(CSR_PMPCFG0 + i, `pmpcfg${i}`);
  for (let i = 0; i < PMPADDR_COUNT; i++) m.set(CSR_PMPADDR0 + i, `pmpaddr${i}`);
  return m;
}

const NUMBERS: ReadonlyMap<string, number> = new Map([...CSR_NAMES].map(([n, s]) => [s, n]));

/** The spec name of CSR `csr`, or undefined for a number this table does not name. */
export function csrName(csr: number): string | undefined {
  return CSR_NAMES.get(csr);
}

/** The number of the CSR named `name` (case-insensitive), or undefined. */
export function csrNumber(name: string): number | undefined {
  return NUMBERS.get(name.toLowerCase());
}

/**
 * The CSR address-space conventions of Privileged spec §2.1 (Table 2.1): bits 11:10 = 11 means read-only,
 * bits 9:8 are the lowest privilege level that may access the CSR (0 U, 1 S, 2 H/VS, 3 M).
 */
export function csrIsReadOnly(csr: number): boolean {
  return ((csr >> 10) & 3) === 3;
}
export function csrMinPrivilege(csr: number): number {
  return (csr >> 8) & 3;
}
