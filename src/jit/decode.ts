/**
 * What the translator can lower, and the shape of a guest basic block: straight-line RV64I/M/A/C integer
 * instructions ending at a branch or jump (RISC-V unprivileged spec 20191213, chapters 2, 5, 7 and 16).
 * A (through a helper), F/D (by the interpreter, one instruction at a time). Everything else (SYSTEM, FENCE.I, illegal encodings) ends a block and is left to the
 * interpreter, which stays the reference for those rules.
 */
import { RVC_TABLE } from "../isa/riscv/compressed.js";
import {
  AMO,
  AUIPC,
  BRANCH,
  JAL,
  JALR,
  LOAD,
  LOAD_FP,
  LUI,
  MADD,
  MISC_MEM,
  MSUB,
  NMADD,
  NMSUB,
  OP,
  OP_32,
  OP_FP,
  OP_IMM,
  OP_IMM_32,
  STORE,
  STORE_FP,
} from "../isa/riscv/opcodes.js";

/** One decoded instruction: its virtual PC, the 32-bit (expanded) encoding and its length. */
export interface GuestInsn {
  pc: number;
  insn: number;
  ilen: number;
}

/** Most instructions per basic block: bounds translation size and the latency of interrupts. */
export const MAX_BLOCK_INSNS = 64;

/**
 * True when the translator lowers this (expanded) instruction with exactly the interpreter's semantics,
 * including its legality checks; false sends it to the interpreter.
 */
export function translatable(insn: number): boolean {
  const f3 = (insn >>> 12) & 7;
  const f7 = insn >>> 25;
  switch (insn & 0x7f) {
    case OP_IMM:
      if (f3 === 1) return insn >>> 26 === 0;
      if (f3 === 5) return insn >>> 26 === 0 || insn >>> 26 === 0x10;
      return true;
    case OP_IMM_32:
      if (f3 === 0) return true;
      if (f3 === 1) return f7 === 0;
      if (f3 === 5) return f7 === 0 || f7 === 0x20;
      return false;
    case LOAD:
      return f3 !== 7;
    case STORE:
      return f3 <= 3;
    case OP:
      return f7 === 0 || f7 === 1 || (f7 === 0x20 && (f3 === 0 || f3 === 5));
    case OP_32:
      if (f7 === 0) return f3 === 0 || f3 === 1 || f3 === 5;
      if (f7 === 0x20) return f3 === 0 || f3 === 5;
      if (f7 === 1) return f3 === 0 || f3 >= 4;
      return false;
    case LUI:
    case AUIPC:
    case JAL:
      return true;
    case JALR:
      return f3 === 0;
    case BRANCH:
      return f3 !== 2 && f3 !== 3;
    case AMO: {
      // LR/SC and AMOs (spec chapter 8) run in the interpreter's code through a helper; only legal
      // encodings, so an illegal one still ends the block and traps in the interpreter.
      const f5 = insn >>> 27;
      if (f3 !== 2 && f3 !== 3) return false;
      if (f5 === 2) return ((insn >>> 20) & 31) === 0;
      return (
        f5 === 0 || f5 === 1 || f5 === 3 || f5 === 4 || f5 === 8 || f5 === 12 || (f5 >= 16 && f5 % 4 === 0)
      );
    }
    case LOAD_FP:
    case STORE_FP:
    case MADD:
    case MSUB:
    case NMSUB:
    case NMADD:
    case OP_FP:
      // F/D run as the interpreter runs them, one instruction through a helper (viaInterpreter), so
      // results, fflags and the FS checks are the interpreter's bit for bit, but the region goes on.
      return true;
    case MISC_MEM:
      // FENCE orders memory for other harts, which run one at a time: a no-op here as in the interpreter.
      // FENCE.I goes to the interpreter (code writes already invalidate translations, see docs/jit.md).
      return f3 === 0;
    default:
      return false;
  }
}

/** True for instructions that end a basic block (control transfer). */
export function endsBlock(insn: number): boolean {
  const op = insn & 0x7f;
  return op === BRANCH || op === JAL || op === JALR;
}

/**
 * Decode one instruction at byte `poff` of a 4 KiB page (RAM offset `pageOff`) from the halfword view.
 * Returns null when it does not fit in the page (a 32-bit instruction in the last halfword).
 */
export function decodeAt(u16: Uint16Array, pageOff: number, poff: number, pc: number): GuestInsn | null {
  const half = u16[(pageOff + poff) >>> 1];
  if ((half & 3) !== 3) return { pc, insn: RVC_TABLE[half], ilen: 2 };
  if (poff > 4092) return null;
  return { pc, insn: half | (u16[((pageOff + poff) >>> 1) + 1] << 16) | 0, ilen: 4 };
}

/**
 * The basic block at virtual `pc` (page offset `poff` in the page at RAM offset `pageOff`): translatable
 * instructions up to and including the first control transfer, stopping before anything untranslatable,
 * at the page end or at MAX_BLOCK_INSNS. `stop` is the first instruction not in the block, if any.
 */
export function scanBlock(
  u16: Uint16Array,
  pageOff: number,
  pc: number,
): { insns: GuestInsn[]; stopsOnUntranslatable: boolean } {
  const insns: GuestInsn[] = [];
  const vpage = pc - (((pc % 4096) + 4096) % 4096);
  let p = pc;
  while (insns.length < MAX_BLOCK_INSNS && p - vpage < 4096) {
    const d = decodeAt(u16, pageOff, p - vpage, p);
    if (d === null || d.insn === 0 || !translatable(d.insn)) return { insns, stopsOnUntranslatable: true };
    insns.push(d);
    if (endsBlock(d.insn)) break;
    p += d.ilen;
  }
  return { insns, stopsOnUntranslatable: false };
}

/** True for instructions a region runs through the interpreter (one instruction per helper call). */
export function viaInterpreter(insn: number): boolean {
  const op = insn & 0x7f;
  return (
    op === LOAD_FP ||
    op === STORE_FP ||
    op === MADD ||
    op === MSUB ||
    op === NMSUB ||
    op === NMADD ||
    op === OP_FP
  );
}
