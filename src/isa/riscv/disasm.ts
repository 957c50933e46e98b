/** Disassembler: RV64GC instruction words to GNU objdump-style text with ABI register names. */

import { expandCompressed } from "./compressed.js";
import { CSR_CYCLE, CSR_FCSR, CSR_FFLAGS, CSR_FRM, CSR_INSTRET, CSR_TIME, csrName } from "./csr-names.js";
import { type Decoded, decode } from "./decode.js";

// Output follows GNU objdump's RISC-V syntax: `mnemonic operands` with operands joined by "," and no spaces,
// shift amounts / LUI / AUIPC immediates in hex, other immediates in decimal, memory operands as imm(reg),
// branch and jump targets as absolute hexadecimal addresses. With `aliases: false` the text equals
// `objdump -d -M no-aliases,priv-spec=1.12` (mnemonic and operands separated by one space instead of a tab, and
// without objdump's `<symbol>` and `# comment` annotations). With aliases (the default) the pseudo-instructions
// of Unprivileged spec chapter 25 (Tables 25.2, 25.3) are used where they apply, as `objdump -d` does.
// Compressed instructions print as their 32-bit expansion (Unprivileged spec §16.1: each RVC instruction
// expands to a single base instruction).

/** ABI names of x0..x31 (Unprivileged spec chapter 25, Table 25.1). */
// biome-ignore format: sixteen registers per line reads best
export const X_ABI_NAMES: readonly string[] = [
  "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
  "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
];

/** ABI names of f0..f31 (Table 25.1). */
// biome-ignore format: sixteen registers per line reads best
export const F_ABI_NAMES: readonly string[] = [
  "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5",
  "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

/** Rounding-mode names (Unprivileged spec §11.2, Table 11.1); 5 and 6 are reserved. */
const RM_NAMES: readonly string[] = ["rne", "rtz", "rdn", "rup", "rmm", "unknown", "unknown", "dyn"];

export interface DisasmOptions {
  /** Print pseudo-instructions (li, mv, ret, csrr, ...) like `objdump -d`. Default true. */
  readonly aliases?: boolean;
}

const x = (r: number): string => X_ABI_NAMES[r];
const f = (r: number): string => F_ABI_NAMES[r];
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** A CSR operand: its spec name when known, else its number in hex (as objdump prints unknown CSRs). */
function csrText(csr: number): string {
  return csrName(csr) ?? hex(csr);
}

/** FENCE predecessor/successor set as letters from I,O,R,W (§2.7); the empty set prints "unknown" like objdump. */
function fenceSet(bits: number): string {
  let s = "";
  if (bits & 8) s += "i";
  if (bits & 4) s += "o";
  if (bits & 2) s += "r";
  if (bits & 1) s += "w";
  return s === "" ? "unknown" : s;
}

/** Absolute branch/jump target as unsigned 64-bit hex without prefix, like objdump. */
function target(pc: number | bigint, offset: number): string {
  return BigInt.asUintN(64, BigInt(pc) + BigInt(offset)).toString(16);
}

/** `,rm` unless the rounding mode is dynamic (objdump omits `dyn`). */
function rmSuffix(rm: number): string {
  return rm === 7 ? "" : `,${RM_NAMES[rm]}`;
}

/** Operand text for `d` in the canonical (no-alias) syntax. */
function operands(d: Decoded, pc: number | bigint): string {
  switch (d.format) {
    case "R":
      return `${x(d.rd)},${x(d.rs1)},${x(d.rs2)}`;
    case "I":
      return `${x(d.rd)},${x(d.rs1)},${d.imm}`;
    case "LOAD":
    case "JALR":
      return `${x(d.rd)},${d.imm}(${x(d.rs1)})`;
    case "S":
      return `${x(d.rs2)},${d.imm}(${x(d.rs1)})`;
    case "B":
      return `${x(d.rs1)},${x(d.rs2)},${target(pc, d.imm)}`;
    case "U":
      return `${x(d.rd)},${hex(d.imm >>> 12)}`;
    case "J":
      return `${x(d.rd)},${target(pc, d.imm)}`;
    case "SHIFT":
    case "SHIFTW":
      return `${x(d.rd)},${x(d.rs1)},${hex(d.shamt)}`;
    case "CSR":
      return `${x(d.rd)},${csrText(d.csr)},${x(d.rs1)}`;
    case "CSRI":
      return `${x(d.rd)},${csrText(d.csr)},${d.imm}`;
    case "AMO":
      return `${x(d.rd)},${x(d.rs2)},(${x(d.rs1)})`;
    case "LR":
      return `${x(d.rd)},(${x(d.rs1)})`;
    case "FENCE":
      return `${fenceSet(d.pred)},${fenceSet(d.succ)}`;
    case "NONE":
      return "";
    case "SFENCE":
      return `${x(d.rs1)},${x(d.rs2)}`;
    case "F_LOAD":
      return `${f(d.rd)},${d.imm}(${x(d.rs1)})`;
    case "F_STORE":
      return `${f(d.rs2)},${d.imm}(${x(d.rs1)})`;
    case "F_R_RM":
      return `${f(d.rd)},${f(d.rs1)},${f(d.rs2)}${rmSuffix(d.rm)}`;
    case "F_R":
      return `${f(d.rd)},${f(d.rs1)},${f(d.rs2)}`;
    case "F_R4":
      return `${f(d.rd)},${f(d.rs1)},${f(d.rs2)},${f(d.rs3)}${rmSuffix(d.rm)}`;
    case "F_R1_RM":
      return `${f(d.rd)},${f(d.rs1)}${rmSuffix(d.rm)}`;
    case "F_R1_EXACT":
      // The conversion is exact, so the assembler writes rm=0 and objdump prints none.
      return `${f(d.rd)},${f(d.rs1)}${d.rm === 0 ? "" : rmSuffix(d.rm)}`;
    case "F_CMP":
      return `${x(d.rd)},${f(d.rs1)},${f(d.rs2)}`;
    case "F_TO_X_RM":
      return `${x(d.rd)},${f(d.rs1)}${rmSuffix(d.rm)}`;
    case "X_TO_F_RM":
      return `${f(d.rd)},${x(d.rs1)}${rmSuffix(d.rm)}`;
    case "X_TO_F_EXACT":
      return `${f(d.rd)},${x(d.rs1)}${d.rm === 0 ? "" : rmSuffix(d.rm)}`;
    case "F_TO_X":
      return `${x(d.rd)},${f(d.rs1)}`;
    case "X_TO_F":
      return `${f(d.rd)},${x(d.rs1)}`;
  }
}

/** CSR-specific read aliases (Table 25.3): rdcycle/rdtime/rdinstret and the floating-point CSR ones. */
const CSR_READ_ALIAS: ReadonlyMap<number, string> = new Map([
  [CSR_CYCLE, "rdcycle"],
  [CSR_TIME, "rdtime"],
  [CSR_INSTRET, "rdinstret"],
  [CSR_FFLAGS, "frflags"],
  [CSR_FRM, "frrm"],
  [CSR_FCSR, "frcsr"],
]);
/** Floating-point CSR write aliases (Table 25.3): fsflags/fsrm/fscsr, and fsflagsi/fsrmi for the immediate forms. */
const CSR_WRITE_ALIAS: ReadonlyMap<number, string> = new Map([
  [CSR_FFLAGS, "fsflags"],
  [CSR_FRM, "fsrm"],
  [CSR_FCSR, "fscsr"],
]);

/**
 * The pseudo-instruction text for `d` (Tables 25.2, 25.3), or null when none applies. `compressed` says `d`
 * is the expansion of an RVC instruction: C.MV expands to `add rd,x0,rs2` and reads as `mv` (§16.5).
 */
function alias(d: Decoded, pc: number | bigint, compressed: boolean): string | null {
  const { rd, rs1, rs2, imm } = d;
  switch (d.name) {
    case "add":
      return compressed && rs1 === 0 ? `mv ${x(rd)},${x(rs2)}` : null;
    case "addi":
      if (rd === 0 && rs1 === 0 && imm === 0) return "nop";
      if (rs1 === 0) return `li ${x(rd)},${imm}`;
      if (imm === 0) return `mv ${x(rd)},${x(rs1)}`;
      return null;
    case "xori":
      return imm === -1 ? `not ${x(rd)},${x(rs1)}` : null;
    case "sub":
      return rs1 === 0 ? `neg ${x(rd)},${x(rs2)}` : null;
    case "subw":
      return rs1 === 0 ? `negw ${x(rd)},${x(rs2)}` : null;
    case "addiw":
      return imm === 0 ? `sext.w ${x(rd)},${x(rs1)}` : null;
    case "sltiu":
      return imm === 1 ? `seqz ${x(rd)},${x(rs1)}` : null;
    case "sltu":
      return rs1 === 0 ? `snez ${x(rd)},${x(rs2)}` : null;
    case "slt":
      if (rs2 === 0) return `sltz ${x(rd)},${x(rs1)}`;
      if (rs1 === 0) return `sgtz ${x(rd)},${x(rs2)}`;
      return null;
    case "beq":
      return rs2 === 0 ? `beqz ${x(rs1)},${target(pc, imm)}` : null;
    case "bne":
      return rs2 === 0 ? `bnez ${x(rs1)},${target(pc, imm)}` : null;
    case "blt":
      if (rs2 === 0) return `bltz ${x(rs1)},${target(pc, imm)}`;
      if (rs1 === 0) return `bgtz ${x(rs2)},${target(pc, imm)}`;
      return null;
    case "bge":
      if (rs2 === 0) return `bgez ${x(rs1)},${target(pc, imm)}`;
      if (rs1 === 0) return `blez ${x(rs2)},${target(pc, imm)}`;
      return null;
    case "jal":
      if (rd === 0) return `j ${target(pc, imm)}`;
      if (rd === 1) return `jal ${target(pc, imm)}`;
      return null;
    case "jalr":
      if (imm !== 0) return null;
      if (rd === 0) return rs1 === 1 ? "ret" : `jr ${x(rs1)}`;
      if (rd === 1) return `jalr ${x(rs1)}`;
      return null;
    case "csrrs":
      if (rs1 !== 0) return rd === 0 ? `csrs ${csrText(d.csr)},${x(rs1)}` : null;
      if (CSR_READ_ALIAS.has(d.csr)) return `${CSR_READ_ALIAS.get(d.csr)} ${x(rd)}`;
      return `csrr ${x(rd)},${csrText(d.csr)}`;
    case "csrrw": {
      const w = CSR_WRITE_ALIAS.get(d.csr);
      if (w !== undefined) return rd === 0 ? `${w} ${x(rs1)}` : `${w} ${x(rd)},${x(rs1)}`;
      return rd === 0 ? `csrw ${csrText(d.csr)},${x(rs1)}` : null;
    }
    case "csrrc":
      return rd === 0 ? `csrc ${csrText(d.csr)},${x(rs1)}` : null;
    case "csrrwi": {
      const w = CSR_WRITE_ALIAS.get(d.csr);
      if (w !== undefined && d.csr !== CSR_FCSR) return rd === 0 ? `${w}i ${imm}` : `${w}i ${x(rd)},${imm}`;
      return rd === 0 ? `csrwi ${csrText(d.csr)},${imm}` : null;
    }
    case "csrrsi":
      return rd === 0 ? `csrsi ${csrText(d.csr)},${imm}` : null;
    case "csrrci":
      return rd === 0 ? `csrci ${csrText(d.csr)},${imm}` : null;
    case "fsgnj.s":
    case "fsgnj.d":
    case "fsgnjn.s":
    case "fsgnjn.d":
    case "fsgnjx.s":
    case "fsgnjx.d": {
      if (rs1 !== rs2) return null;
      const kind = d.name.slice(5, -2); // "", "n" or "x"
      const pseudo = kind === "" ? "fmv" : kind === "n" ? "fneg" : "fabs";
      return `${pseudo}${d.name.slice(-2)} ${f(rd)},${f(rs1)}`;
    }
    case "fence":
      return d.pred === 0xf && d.succ === 0xf ? "fence" : null;
    case "sfence.vma":
      if (rs2 !== 0) return null;
      return rs1 === 0 ? "sfence.vma" : `sfence.vma ${x(rs1)}`;
    default:
      return null;
  }
}

/**
 * Disassemble one instruction. `insn` is a 32-bit word, or a halfword whose low two bits are not 11 (a
 * compressed instruction; any upper 16 bits are ignored). `pc` (the instruction's address, a signed or unsigned
 * 64-bit value) is used for branch and jump targets. Illegal encodings print as `.2byte 0x...`/`.4byte 0x...`
 * like objdump.
 */
export function disassemble(insn: number, pc: number | bigint = 0, options: DisasmOptions = {}): string {
  let word = insn | 0;
  const compressed = (word & 3) !== 3;
  if (compressed) {
    const half = word & 0xffff;
    word = expandCompressed(half);
    if (word === 0) return `.2byte ${hex(half)}`;
  }
  const d = decode(word);
  if (d === null) return `.4byte ${hex(word)}`;
  if (options.aliases ?? true) {
    const a = alias(d, pc, compressed);
    if (a !== null) return a;
  }
  const ops = operands(d, pc);
  const name = d.aq || d.rl ? `${d.name}.${d.aq ? "aq" : ""}${d.rl ? "rl" : ""}` : d.name;
  return ops === "" ? name : `${name} ${ops}`;
}
