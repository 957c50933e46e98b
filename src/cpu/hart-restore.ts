/**
 * Checking a saved hart state before it is restored. A state file is untrusted input (it may come from
 * another host or be edited), so every field is checked against what the hart itself could have
 * reached: its type, its size, and the WARL legal values of each CSR (privileged spec 3.1 and 4.1),
 * before anything is assigned. The result is a typed snapshot that restore() copies in.
 */
import { type SavedState, StateReader } from "../base/state.js";
import {
  CSR_MCAUSE,
  CSR_MEPC,
  CSR_MSCRATCH,
  CSR_MTVAL,
  CSR_MTVEC,
  CSR_SCAUSE,
  CSR_SEPC,
  CSR_SSCRATCH,
  CSR_STIMECMP,
  CSR_STVAL,
  CSR_STVEC,
} from "../isa/riscv/csr-names.js";
import {
  ALL_INTERRUPTS,
  MEDELEG_WRITABLE,
  MENVCFG_HI_STCE,
  MENVCFG_LO_WRITABLE,
  MSTATUS_MPP,
  MSTATUS_MPP_SHIFT,
  MSTATUS_WRITABLE,
  PRIV_M,
  PRIV_S,
  PRIV_U,
  S_INTERRUPTS,
} from "./csr-bits.js";

/** CSRs held verbatim in csrLo/csrHi that save() must keep. */
export const SAVED_CSRS = [
  CSR_STVEC,
  CSR_SSCRATCH,
  CSR_SEPC,
  CSR_SCAUSE,
  CSR_STVAL,
  CSR_STIMECMP,
  CSR_MTVEC,
  CSR_MSCRATCH,
  CSR_MEPC,
  CSR_MCAUSE,
  CSR_MTVAL,
] as const;

/** The checked contents of a "riscv-hart" v1 state. */
export interface HartSnapshot {
  x: Int32Array;
  f: Int32Array;
  pc: number;
  priv: number;
  fflags: number;
  frm: number;
  mstatus: number;
  mipSoft: number;
  mipHw: number;
  mie: number;
  mideleg: number;
  medeleg: number;
  mcounteren: number;
  scounteren: number;
  mcountinhibit: number;
  menvcfgLo: number;
  menvcfgHi: number;
  senvcfg: number;
  /** [csr, lo, hi] for each of SAVED_CSRS. */
  csrs: Array<[number, number, number]>;
  pmpcfg: Uint8Array;
  pmpaddrLo: Int32Array;
  pmpaddrHi: Int32Array;
  satpLo: number;
  satpHi: number;
  instret: number;
  cycleOffset: number;
  instretOffset: number;
  cycleFrozen: number;
  instretFrozen: number;
  waitingForInterrupt: boolean;
  stopped: boolean;
}

const I32_MIN = -0x80000000;
const I32_MAX = 0x7fffffff;
const PMP_ENTRIES = 64;

/** A bit set that may only have bits of `mask` (a WARL field holding no unimplemented bits). */
function bitsWithin(r: StateReader, field: string, mask: number): number {
  const v = r.i32(field);
  if ((v & ~mask) !== 0)
    r.fail(field, `has bits outside 0x${(mask >>> 0).toString(16)}: 0x${(v >>> 0).toString(16)}`, v);
  return v;
}

/** Check every field of a saved hart; throws a StateError naming the field. Nothing is modified. */
export function readHartState(s: SavedState, hartId: number): HartSnapshot {
  const r = new StateReader(s, "riscv-hart", "riscv-hart", 1);
  r.int("hartId", hartId, hartId);
  const x = r.typed("x", Int32Array, 64);
  if (x[0] !== 0 || x[1] !== 0) r.fail("x[0]", "the zero register must be 0");
  const f = r.typed("f", Int32Array, 64);
  const pc = r.int("pc", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  // IALIGN is 16 with the C extension: bit 0 of the pc is always zero (unprivileged spec 1.5).
  if (pc % 2 !== 0) r.fail("pc", `must be even, got ${pc}`, pc);
  const priv = r.oneOf("priv", [PRIV_U, PRIV_S, PRIV_M]);
  const fflags = r.int("fflags", 0, 31);
  const frm = r.int("frm", 0, 7);
  const mstatus = bitsWithin(r, "mstatus", MSTATUS_WRITABLE);
  // MPP = 2 is reserved (WARL: the hart never holds it).
  if ((mstatus & MSTATUS_MPP) >>> MSTATUS_MPP_SHIFT === 2) r.fail("mstatus", "MPP = 2 is reserved", mstatus);
  const snap: HartSnapshot = {
    x,
    f,
    pc,
    priv,
    fflags,
    frm,
    mstatus,
    mipSoft: bitsWithin(r, "mipSoft", S_INTERRUPTS),
    mipHw: bitsWithin(r, "mipHw", ALL_INTERRUPTS),
    mie: bitsWithin(r, "mie", ALL_INTERRUPTS),
    mideleg: bitsWithin(r, "mideleg", S_INTERRUPTS),
    medeleg: bitsWithin(r, "medeleg", MEDELEG_WRITABLE),
    mcounteren: bitsWithin(r, "mcounteren", 7),
    scounteren: bitsWithin(r, "scounteren", 7),
    // CY and IR only; TM is read-only zero (spec 3.1.13).
    mcountinhibit: bitsWithin(r, "mcountinhibit", 5),
    menvcfgLo: 0,
    menvcfgHi: 0,
    senvcfg: bitsWithin(r, "senvcfg", 1),
    csrs: [],
    pmpcfg: r.typed("pmpcfg", Uint8Array, PMP_ENTRIES),
    pmpaddrLo: r.typed("pmpaddrLo", Int32Array, PMP_ENTRIES),
    pmpaddrHi: r.typed("pmpaddrHi", Int32Array, PMP_ENTRIES),
    satpLo: 0,
    satpHi: 0,
    instret: r.int("instret", 0, Number.MAX_SAFE_INTEGER),
    cycleOffset: r.int("cycleOffset", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    instretOffset: r.int("instretOffset", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    cycleFrozen: 0,
    instretFrozen: 0,
    waitingForInterrupt: r.bool("waitingForInterrupt"),
    stopped: r.bool("stopped"),
  };
  const [envLo, envHi] = r.ints("menvcfg", 2, I32_MIN, I32_MAX);
  if ((envLo & ~MENVCFG_LO_WRITABLE) !== 0 || (envHi & ~MENVCFG_HI_STCE) !== 0)
    r.fail("menvcfg", "has bits the hart does not implement", [envLo, envHi]);
  snap.menvcfgLo = envLo;
  snap.menvcfgHi = envHi;
  const csrs = r.record("csrs");
  const wanted = new Set(SAVED_CSRS.map((c) => c.toString(16)));
  for (const k of Object.keys(csrs)) if (!wanted.has(k)) r.fail(`csrs.${k}`, "not a saved CSR");
  for (const c of SAVED_CSRS) {
    const key = c.toString(16);
    const v = csrs[key];
    if (
      !Array.isArray(v) ||
      v.length !== 2 ||
      !v.every((w) => typeof w === "number" && Number.isInteger(w) && w >= I32_MIN && w <= I32_MAX)
    )
      r.fail(`csrs.${key}`, "expected [lo, hi] as two int32 values", v);
    const [lo, hi] = v as [number, number];
    // WARL legal values only (spec 3.1.7: tvec MODE 2 and 3 reserved; 3.1.14: xepc bit 0 zero with C).
    if ((c === CSR_MTVEC || c === CSR_STVEC) && (lo & 3) >= 2)
      r.fail(`csrs.${key}`, "reserved tvec MODE", lo);
    if ((c === CSR_MEPC || c === CSR_SEPC) && (lo & 1) !== 0)
      r.fail(`csrs.${key}`, "xepc bit 0 must be 0", lo);
    snap.csrs.push([c, lo, hi]);
  }
  for (let i = 0; i < PMP_ENTRIES; i++) {
    const cfg = snap.pmpcfg[i];
    // Bits 5-6 are reserved and R=0,W=1 is reserved (spec 3.7.1): the hart never holds either.
    if ((cfg & 0x60) !== 0 || (cfg & 3) === 2)
      r.fail(`pmpcfg[${i}]`, `illegal value 0x${cfg.toString(16)}`, cfg);
    // pmpaddr holds bits 55:2 of an address: 54 bits (spec 3.7.1.1).
    if ((snap.pmpaddrHi[i] & ~0x3fffff) !== 0)
      r.fail(`pmpaddrHi[${i}]`, "more than 54 address bits", snap.pmpaddrHi[i]);
  }
  const [satpLo, satpHi] = r.ints("satp", 2, I32_MIN, I32_MAX);
  const mode = satpHi >>> 28;
  // Bare, Sv39 or Sv48 (spec 4.1.11); ASIDLEN is 0, so the ASID bits are zero.
  if (mode !== 0 && mode !== 8 && mode !== 9) r.fail("satp", `unsupported MODE ${mode}`, mode);
  if ((satpHi & 0x0ffff000) !== 0) r.fail("satp", "ASID bits must be zero (ASIDLEN is 0)", satpHi);
  snap.satpLo = satpLo;
  snap.satpHi = satpHi;
  [snap.cycleFrozen, snap.instretFrozen] = r.ints(
    "frozen",
    2,
    Number.MIN_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER,
  );
  r.done();
  return snap;
}
