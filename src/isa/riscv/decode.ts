/** Table-driven decoder: turns a 32-bit RV64GC instruction word into its mnemonic and operand fields. */

import { RVC_TABLE } from "./compressed.js";
import { type Ext, type Format, OPCODES, type OpcodeEntry } from "./opcodes.js";

/**
 * A decoded instruction. Register fields (rd, rs1, rs2, rs3) are the raw 5-bit fields of the word (Unprivileged
 * spec §2.2, Figure 2.3; rs3 is bits 31:27 of R4-type); `format` says which of them are operands and whether
 * they name x or f registers. `imm` is the sign-extended immediate of the format (for U-type the value
 * already shifted left by 12; for B/J the byte offset; for CSRI the 5-bit uimm; for SHIFT/SHIFTW the shamt).
 */
export interface Decoded {
  /** Index of the matching entry in OPCODES, for switch-based dispatch. */
  readonly op: number;
  readonly name: string;
  readonly format: Format;
  readonly ext: Ext;
  /** The instruction word, unsigned. */
  readonly insn: number;
  readonly rd: number;
  readonly rs1: number;
  readonly rs2: number;
  readonly rs3: number;
  readonly imm: number;
  /** CSR number (bits 31:20) for CSR and CSRI formats, else 0. */
  readonly csr: number;
  /** Rounding-mode field (bits 14:12; 7 = dynamic) for F/D formats that have one, else 0. */
  readonly rm: number;
  /** Acquire / release bits of AMO and LR/SC (§8.2). */
  readonly aq: boolean;
  readonly rl: boolean;
  /** Shift amount of SHIFT (6 bits) / SHIFTW (5 bits), else 0. */
  readonly shamt: number;
  /** FENCE fields (§2.7): predecessor/successor sets (bit 3..0 = I,O,R,W) and fence mode. */
  readonly pred: number;
  readonly succ: number;
  readonly fm: number;
}

/** Candidate entries per major opcode (bits 6:0), most specific mask first so e.g. fence.tso beats fence. */
const BY_OPCODE: readonly (readonly number[])[] = buildIndex();

function popcount(v: number): number {
  let n = 0;
  for (v >>>= 0; v !== 0; v >>>= 1) n += v & 1;
  return n;
}

function buildIndex(): number[][] {
  const lists: number[][] = Array.from({ length: 128 }, () => []);
  OPCODES.forEach((e, i) => {
    lists[e.match & 0x7f].push(i);
  });
  for (const l of lists) l.sort((a, b) => popcount(OPCODES[b].mask) - popcount(OPCODES[a].mask) || a - b);
  return lists;
}

/** The table entry an instruction word matches, or -1 when the word is not a valid RV64GC instruction. */
export function lookupOpcode(insn: number): number {
  for (const i of BY_OPCODE[insn & 0x7f]) {
    const e = OPCODES[i];
    if ((insn & e.mask) === (e.match | 0)) return i;
  }
  return -1;
}

/** The immediate of `format` from `w` (Unprivileged spec §2.3, Figure 2.4 "Types of immediate"). */
function immediate(format: Format, w: number): number {
  switch (format) {
    case "I":
    case "LOAD":
    case "JALR":
    case "F_LOAD":
      return w >> 20;
    case "S":
    case "F_STORE":
      return ((w >> 25) << 5) | ((w >> 7) & 0x1f);
    case "B":
      return ((w >> 31) << 12) | (((w >> 7) & 1) << 11) | (((w >> 25) & 0x3f) << 5) | (((w >> 8) & 0xf) << 1);
    case "U":
      return w & 0xfffff000;
    case "J":
      return ((w >> 31) << 20) | (w & 0xff000) | (((w >> 20) & 1) << 11) | (((w >> 21) & 0x3ff) << 1);
    case "SHIFT":
      return (w >> 20) & 0x3f;
    case "SHIFTW":
      return (w >> 20) & 0x1f;
    case "CSRI":
      return (w >> 15) & 0x1f;
    default:
      return 0;
  }
}

/** Formats whose funct3 field is a rounding mode (Unprivileged spec §11.2, Table 11.1). */
const HAS_RM: ReadonlySet<Format> = new Set<Format>([
  "F_R_RM",
  "F_R4",
  "F_R1_RM",
  "F_R1_EXACT",
  "F_TO_X_RM",
  "X_TO_F_RM",
  "X_TO_F_EXACT",
]);

/**
 * Decode a 32-bit instruction word (signed or unsigned). Returns null when it matches no RV64GC instruction.
 * Reserved rounding modes (5, 6) are not rejected here: whether rm is legal depends on frm at execution time
 * for rm=7, so the executor checks rm.
 */
export function decode(insn32: number): Decoded | null {
  const w = insn32 | 0;
  const op = lookupOpcode(w);
  if (op < 0) return null;
  const e: OpcodeEntry = OPCODES[op];
  const format = e.format;
  const isCsr = format === "CSR" || format === "CSRI";
  const isAmo = format === "AMO" || format === "LR";
  const imm = immediate(format, w);
  return {
    op,
    name: e.name,
    format,
    ext: e.ext,
    insn: w >>> 0,
    rd: (w >> 7) & 0x1f,
    rs1: (w >> 15) & 0x1f,
    rs2: (w >> 20) & 0x1f,
    rs3: (w >>> 27) & 0x1f,
    imm,
    csr: isCsr ? (w >>> 20) & 0xfff : 0,
    rm: HAS_RM.has(format) ? (w >> 12) & 7 : 0,
    aq: isAmo && ((w >> 26) & 1) === 1,
    rl: isAmo && ((w >> 25) & 1) === 1,
    shamt: format === "SHIFT" || format === "SHIFTW" ? imm : 0,
    pred: format === "FENCE" ? (w >> 24) & 0xf : 0,
    succ: format === "FENCE" ? (w >> 20) & 0xf : 0,
    fm: format === "FENCE" ? (w >>> 28) & 0xf : 0,
  };
}

/** Length in bytes of the instruction whose first halfword is `lowHalf`: 2 for RVC, else 4 (RV64GC has no longer ones). */
export function instructionLength(lowHalf: number): 2 | 4 {
  return (lowHalf & 3) === 3 ? 4 : 2;
}

/**
 * Decode an instruction given its first 32 bits as fetched (the upper half is ignored when the low half is a
 * compressed instruction, which is decoded through its 32-bit expansion). Returns null for illegal encodings.
 */
export function decodeFetched(word: number): Decoded | null {
  if ((word & 3) !== 3) {
    const expanded = RVC_TABLE[word & 0xffff];
    return expanded === 0 ? null : decode(expanded);
  }
  return decode(word);
}
