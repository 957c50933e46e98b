/** The RV64GC instruction table: every instruction's mnemonic, mask/match encoding, operand format and extension. */

// Encodings follow the RISC-V Unprivileged ISA spec (20191213): chapter 24 "RV32/64G Instruction Set Listings"
// (Tables 24.1–24.5 opcode map and per-extension listings), plus the Privileged spec 1.12 §3.3 (mret, wfi),
// §4.2.1 (sret, sfence.vma). An instruction word `w` is `name` when `(w & mask) === match`. Bits left out
// of a mask are operand fields; where the spec reserves a field (e.g. rs2 of LR, fm/rs1/rd of FENCE) the
// table keeps it out of the mask exactly as the spec's listings do.

/**
 * Operand layout of an instruction; it says which fields of the word are operands, how the immediate is
 * scrambled, and which register file (x or f) each register operand names.
 */
export type Format =
  | "R" // rd, rs1, rs2
  | "I" // rd, rs1, imm[11:0]
  | "LOAD" // rd, imm(rs1)
  | "S" // rs2, imm(rs1)
  | "B" // rs1, rs2, pc-relative imm[12:1]
  | "U" // rd, imm[31:12]
  | "J" // rd, pc-relative imm[20:1]
  | "JALR" // rd, imm(rs1)
  | "SHIFT" // rd, rs1, shamt[5:0] (RV64 slli/srli/srai)
  | "SHIFTW" // rd, rs1, shamt[4:0] (slliw/srliw/sraiw)
  | "CSR" // rd, csr, rs1
  | "CSRI" // rd, csr, uimm[4:0] in the rs1 field
  | "AMO" // rd, rs2, (rs1), aq, rl
  | "LR" // rd, (rs1), aq, rl
  | "FENCE" // fm, pred, succ
  | "NONE" // no operands (ecall, ebreak, mret, sret, wfi, fence.i, fence.tso)
  | "SFENCE" // rs1, rs2
  | "F_LOAD" // fd, imm(rs1)
  | "F_STORE" // fs2, imm(rs1)
  | "F_R_RM" // fd, fs1, fs2, rm
  | "F_R" // fd, fs1, fs2
  | "F_R4" // fd, fs1, fs2, fs3, rm
  | "F_R1_RM" // fd, fs1, rm (fsqrt, fcvt.s.d)
  | "F_R1_EXACT" // fd, fs1, rm that cannot matter (fcvt.d.s: every single is exact as a double)
  | "F_CMP" // rd, fs1, fs2
  | "F_TO_X_RM" // rd, fs1, rm (fcvt.{w,wu,l,lu}.{s,d})
  | "X_TO_F_RM" // fd, rs1, rm (fcvt.{s,d}.{w,wu,l,lu})
  | "X_TO_F_EXACT" // fd, rs1, rm that cannot matter (fcvt.d.w, fcvt.d.wu: exact)
  | "F_TO_X" // rd, fs1 (fmv.x.w, fmv.x.d, fclass)
  | "X_TO_F"; // fd, rs1 (fmv.w.x, fmv.d.x)

/** The extension an instruction belongs to; "Priv" is the privileged architecture. */
export type Ext = "I" | "M" | "A" | "F" | "D" | "Zicsr" | "Zifencei" | "Priv";

/** One instruction of the table. `mask` and `match` are unsigned 32-bit values. */
export interface OpcodeEntry {
  readonly name: string;
  readonly mask: number;
  readonly match: number;
  readonly format: Format;
  readonly ext: Ext;
}

// Major opcodes (Table 24.1).
export const LOAD = 0x03;
export const LOAD_FP = 0x07;
export const MISC_MEM = 0x0f;
export const OP_IMM = 0x13;
export const AUIPC = 0x17;
export const OP_IMM_32 = 0x1b;
export const STORE = 0x23;
export const STORE_FP = 0x27;
export const AMO = 0x2f;
export const OP = 0x33;
export const LUI = 0x37;
export const OP_32 = 0x3b;
export const MADD = 0x43;
export const MSUB = 0x47;
export const NMSUB = 0x4b;
export const NMADD = 0x4f;
export const OP_FP = 0x53;
export const BRANCH = 0x63;
export const JALR = 0x67;
export const JAL = 0x6f;
export const SYSTEM = 0x73;

// The fully fixed SYSTEM instruction words (unprivileged spec 2.8; privileged spec 3.3.2, 3.3.3).
export const INSN_ECALL = 0x00000073;
export const INSN_EBREAK = 0x00100073;
export const INSN_SRET = 0x10200073;
export const INSN_MRET = 0x30200073;
export const INSN_WFI = 0x10500073;

// Field masks.
const M_OPCODE = 0x7f;
const M_FUNCT3 = 0x7000;
const M_FUNCT7 = 0xfe000000;
const M_FUNCT6 = 0xfc000000;
const M_FUNCT5 = 0xf8000000;
const M_RS2 = 0x01f00000;
const M_RD = 0x00000f80;
const M_FMT = 0x06000000; // fmt field of R4-type (bits 26:25)

function entry(name: string, mask: number, match: number, format: Format, ext: Ext): OpcodeEntry {
  return { name, mask: mask >>> 0, match: match >>> 0, format, ext };
}
/** opcode only (LUI, AUIPC, JAL). */
function op(name: string, opcode: number, format: Format, ext: Ext): OpcodeEntry {
  return entry(name, M_OPCODE, opcode, format, ext);
}
/** opcode + funct3 (I, S, B, CSR, loads/stores). */
function f3(name: string, opcode: number, funct3: number, format: Format, ext: Ext): OpcodeEntry {
  return entry(name, M_OPCODE | M_FUNCT3, opcode | (funct3 << 12), format, ext);
}
/** opcode + funct3 + funct7 (R-type; also F ops whose funct3 is not a rounding mode). */
function f7(name: string, opcode: number, funct3: number, funct7: number, format: Format, ext: Ext) {
  return entry(name, M_OPCODE | M_FUNCT3 | M_FUNCT7, opcode | (funct3 << 12) | (funct7 << 25), format, ext);
}
/** RV64 immediate shifts: opcode + funct3 + funct6 (shamt is 6 bits). */
function shift64(name: string, funct3: number, funct6: number): OpcodeEntry {
  return entry(name, M_OPCODE | M_FUNCT3 | M_FUNCT6, OP_IMM | (funct3 << 12) | (funct6 << 26), "SHIFT", "I");
}
/** A-extension: funct5 + width (funct3 2 = .w, 3 = .d); aq/rl are operands. LR also fixes rs2 = 0. */
function amo(name: string, funct5: number, funct3: number): OpcodeEntry {
  const isLr = funct5 === 0b00010;
  const mask = M_OPCODE | M_FUNCT3 | M_FUNCT5 | (isLr ? M_RS2 : 0);
  return entry(name, mask, AMO | (funct3 << 12) | (funct5 << 27), isLr ? "LR" : "AMO", "A");
}
/** OP-FP with rm in funct3: opcode + funct7. */
function fpRm(name: string, funct7: number, format: Format, ext: Ext): OpcodeEntry {
  return entry(name, M_OPCODE | M_FUNCT7, OP_FP | (funct7 << 25), format, ext);
}
/** OP-FP unary with rm in funct3: opcode + funct7 + rs2 (which selects the operation). */
function fpUnaryRm(name: string, funct7: number, rs2: number, format: Format, ext: Ext): OpcodeEntry {
  return entry(name, M_OPCODE | M_FUNCT7 | M_RS2, OP_FP | (funct7 << 25) | (rs2 << 20), format, ext);
}
/** OP-FP unary without rm: opcode + funct7 + funct3 + rs2 = 0. */
function fpUnary(name: string, funct7: number, funct3: number, format: Format, ext: Ext): OpcodeEntry {
  return entry(
    name,
    M_OPCODE | M_FUNCT3 | M_FUNCT7 | M_RS2,
    OP_FP | (funct3 << 12) | (funct7 << 25),
    format,
    ext,
  );
}
/** R4-type fused multiply-add: opcode + fmt (0 = S, 1 = D). */
function r4(name: string, opcode: number, fmt: number, ext: Ext): OpcodeEntry {
  return entry(name, M_OPCODE | M_FMT, opcode | (fmt << 25), "F_R4", ext);
}
/** A fully fixed SYSTEM instruction word. */
function fixed(name: string, word: number, ext: Ext): OpcodeEntry {
  return entry(name, 0xffffffff, word, "NONE", ext);
}

/** Every RV64GC instruction plus the privileged instructions a supervisor needs. */
export const OPCODES: readonly OpcodeEntry[] = [
  // RV32I / RV64I base (Table 24.2, 24.3).
  op("lui", LUI, "U", "I"),
  op("auipc", AUIPC, "U", "I"),
  op("jal", JAL, "J", "I"),
  f3("jalr", JALR, 0, "JALR", "I"),
  f3("beq", BRANCH, 0, "B", "I"),
  f3("bne", BRANCH, 1, "B", "I"),
  f3("blt", BRANCH, 4, "B", "I"),
  f3("bge", BRANCH, 5, "B", "I"),
  f3("bltu", BRANCH, 6, "B", "I"),
  f3("bgeu", BRANCH, 7, "B", "I"),
  f3("lb", LOAD, 0, "LOAD", "I"),
  f3("lh", LOAD, 1, "LOAD", "I"),
  f3("lw", LOAD, 2, "LOAD", "I"),
  f3("ld", LOAD, 3, "LOAD", "I"),
  f3("lbu", LOAD, 4, "LOAD", "I"),
  f3("lhu", LOAD, 5, "LOAD", "I"),
  f3("lwu", LOAD, 6, "LOAD", "I"),
  f3("sb", STORE, 0, "S", "I"),
  f3("sh", STORE, 1, "S", "I"),
  f3("sw", STORE, 2, "S", "I"),
  f3("sd", STORE, 3, "S", "I"),
  f3("addi", OP_IMM, 0, "I", "I"),
  f3("slti", OP_IMM, 2, "I", "I"),
  f3("sltiu", OP_IMM, 3, "I", "I"),
  f3("xori", OP_IMM, 4, "I", "I"),
  f3("ori", OP_IMM, 6, "I", "I"),
  f3("andi", OP_IMM, 7, "I", "I"),
  shift64("slli", 1, 0b000000),
  shift64("srli", 5, 0b000000),
  shift64("srai", 5, 0b010000),
  f7("add", OP, 0, 0x00, "R", "I"),
  f7("sub", OP, 0, 0x20, "R", "I"),
  f7("sll", OP, 1, 0x00, "R", "I"),
  f7("slt", OP, 2, 0x00, "R", "I"),
  f7("sltu", OP, 3, 0x00, "R", "I"),
  f7("xor", OP, 4, 0x00, "R", "I"),
  f7("srl", OP, 5, 0x00, "R", "I"),
  f7("sra", OP, 5, 0x20, "R", "I"),
  f7("or", OP, 6, 0x00, "R", "I"),
  f7("and", OP, 7, 0x00, "R", "I"),
  f3("addiw", OP_IMM_32, 0, "I", "I"),
  f7("slliw", OP_IMM_32, 1, 0x00, "SHIFTW", "I"),
  f7("srliw", OP_IMM_32, 5, 0x00, "SHIFTW", "I"),
  f7("sraiw", OP_IMM_32, 5, 0x20, "SHIFTW", "I"),
  f7("addw", OP_32, 0, 0x00, "R", "I"),
  f7("subw", OP_32, 0, 0x20, "R", "I"),
  f7("sllw", OP_32, 1, 0x00, "R", "I"),
  f7("srlw", OP_32, 5, 0x00, "R", "I"),
  f7("sraw", OP_32, 5, 0x20, "R", "I"),
  // FENCE.TSO is FENCE with fm=1000, pred=succ=RW (§2.7); listed before the general FENCE so it wins.
  entry("fence.tso", 0xfff0707f, 0x8330000f, "NONE", "I"),
  f3("fence", MISC_MEM, 0, "FENCE", "I"),
  fixed("ecall", INSN_ECALL, "I"),
  fixed("ebreak", INSN_EBREAK, "I"),

  // Zifencei (chapter 3).
  f3("fence.i", MISC_MEM, 1, "NONE", "Zifencei"),

  // Zicsr (chapter 9).
  f3("csrrw", SYSTEM, 1, "CSR", "Zicsr"),
  f3("csrrs", SYSTEM, 2, "CSR", "Zicsr"),
  f3("csrrc", SYSTEM, 3, "CSR", "Zicsr"),
  f3("csrrwi", SYSTEM, 5, "CSRI", "Zicsr"),
  f3("csrrsi", SYSTEM, 6, "CSRI", "Zicsr"),
  f3("csrrci", SYSTEM, 7, "CSRI", "Zicsr"),

  // RV32M / RV64M (Table 24.4 part).
  f7("mul", OP, 0, 0x01, "R", "M"),
  f7("mulh", OP, 1, 0x01, "R", "M"),
  f7("mulhsu", OP, 2, 0x01, "R", "M"),
  f7("mulhu", OP, 3, 0x01, "R", "M"),
  f7("div", OP, 4, 0x01, "R", "M"),
  f7("divu", OP, 5, 0x01, "R", "M"),
  f7("rem", OP, 6, 0x01, "R", "M"),
  f7("remu", OP, 7, 0x01, "R", "M"),
  f7("mulw", OP_32, 0, 0x01, "R", "M"),
  f7("divw", OP_32, 4, 0x01, "R", "M"),
  f7("divuw", OP_32, 5, 0x01, "R", "M"),
  f7("remw", OP_32, 6, 0x01, "R", "M"),
  f7("remuw", OP_32, 7, 0x01, "R", "M"),

  // RV32A / RV64A (Table 24.4 part).
  amo("lr.w", 0b00010, 2),
  amo("sc.w", 0b00011, 2),
  amo("amoswap.w", 0b00001, 2),
  amo("amoadd.w", 0b00000, 2),
  amo("amoxor.w", 0b00100, 2),
  amo("amoand.w", 0b01100, 2),
  amo("amoor.w", 0b01000, 2),
  amo("amomin.w", 0b10000, 2),
  amo("amomax.w", 0b10100, 2),
  amo("amominu.w", 0b11000, 2),
  amo("amomaxu.w", 0b11100, 2),
  amo("lr.d", 0b00010, 3),
  amo("sc.d", 0b00011, 3),
  amo("amoswap.d", 0b00001, 3),
  amo("amoadd.d", 0b00000, 3),
  amo("amoxor.d", 0b00100, 3),
  amo("amoand.d", 0b01100, 3),
  amo("amoor.d", 0b01000, 3),
  amo("amomin.d", 0b10000, 3),
  amo("amomax.d", 0b10100, 3),
  amo("amominu.d", 0b11000, 3),
  amo("amomaxu.d", 0b11100, 3),

  // RV32F / RV64F (Table 24.5 part).
  f3("flw", LOAD_FP, 2, "F_LOAD", "F"),
  f3("fsw", STORE_FP, 2, "F_STORE", "F"),
  r4("fmadd.s", MADD, 0, "F"),
  r4("fmsub.s", MSUB, 0, "F"),
  r4("fnmsub.s", NMSUB, 0, "F"),
  r4("fnmadd.s", NMADD, 0, "F"),
  fpRm("fadd.s", 0x00, "F_R_RM", "F"),
  fpRm("fsub.s", 0x04, "F_R_RM", "F"),
  fpRm("fmul.s", 0x08, "F_R_RM", "F"),
  fpRm("fdiv.s", 0x0c, "F_R_RM", "F"),
  fpUnaryRm("fsqrt.s", 0x2c, 0, "F_R1_RM", "F"),
  f7("fsgnj.s", OP_FP, 0, 0x10, "F_R", "F"),
  f7("fsgnjn.s", OP_FP, 1, 0x10, "F_R", "F"),
  f7("fsgnjx.s", OP_FP, 2, 0x10, "F_R", "F"),
  f7("fmin.s", OP_FP, 0, 0x14, "F_R", "F"),
  f7("fmax.s", OP_FP, 1, 0x14, "F_R", "F"),
  fpUnaryRm("fcvt.w.s", 0x60, 0, "F_TO_X_RM", "F"),
  fpUnaryRm("fcvt.wu.s", 0x60, 1, "F_TO_X_RM", "F"),
  fpUnaryRm("fcvt.l.s", 0x60, 2, "F_TO_X_RM", "F"),
  fpUnaryRm("fcvt.lu.s", 0x60, 3, "F_TO_X_RM", "F"),
  fpUnary("fmv.x.w", 0x70, 0, "F_TO_X", "F"),
  f7("feq.s", OP_FP, 2, 0x50, "F_CMP", "F"),
  f7("flt.s", OP_FP, 1, 0x50, "F_CMP", "F"),
  f7("fle.s", OP_FP, 0, 0x50, "F_CMP", "F"),
  fpUnary("fclass.s", 0x70, 1, "F_TO_X", "F"),
  fpUnaryRm("fcvt.s.w", 0x68, 0, "X_TO_F_RM", "F"),
  fpUnaryRm("fcvt.s.wu", 0x68, 1, "X_TO_F_RM", "F"),
  fpUnaryRm("fcvt.s.l", 0x68, 2, "X_TO_F_RM", "F"),
  fpUnaryRm("fcvt.s.lu", 0x68, 3, "X_TO_F_RM", "F"),
  fpUnary("fmv.w.x", 0x78, 0, "X_TO_F", "F"),

  // RV32D / RV64D (Table 24.5 part).
  f3("fld", LOAD_FP, 3, "F_LOAD", "D"),
  f3("fsd", STORE_FP, 3, "F_STORE", "D"),
  r4("fmadd.d", MADD, 1, "D"),
  r4("fmsub.d", MSUB, 1, "D"),
  r4("fnmsub.d", NMSUB, 1, "D"),
  r4("fnmadd.d", NMADD, 1, "D"),
  fpRm("fadd.d", 0x01, "F_R_RM", "D"),
  fpRm("fsub.d", 0x05, "F_R_RM", "D"),
  fpRm("fmul.d", 0x09, "F_R_RM", "D"),
  fpRm("fdiv.d", 0x0d, "F_R_RM", "D"),
  fpUnaryRm("fsqrt.d", 0x2d, 0, "F_R1_RM", "D"),
  f7("fsgnj.d", OP_FP, 0, 0x11, "F_R", "D"),
  f7("fsgnjn.d", OP_FP, 1, 0x11, "F_R", "D"),
  f7("fsgnjx.d", OP_FP, 2, 0x11, "F_R", "D"),
  f7("fmin.d", OP_FP, 0, 0x15, "F_R", "D"),
  f7("fmax.d", OP_FP, 1, 0x15, "F_R", "D"),
  fpUnaryRm("fcvt.s.d", 0x20, 1, "F_R1_RM", "D"),
  fpUnaryRm("fcvt.d.s", 0x21, 0, "F_R1_EXACT", "D"),
  f7("feq.d", OP_FP, 2, 0x51, "F_CMP", "D"),
  f7("flt.d", OP_FP, 1, 0x51, "F_CMP", "D"),
  f7("fle.d", OP_FP, 0, 0x51, "F_CMP", "D"),
  fpUnary("fclass.d", 0x71, 1, "F_TO_X", "D"),
  fpUnaryRm("fcvt.w.d", 0x61, 0, "F_TO_X_RM", "D"),
  fpUnaryRm("fcvt.wu.d", 0x61, 1, "F_TO_X_RM", "D"),
  fpUnaryRm("fcvt.l.d", 0x61, 2, "F_TO_X_RM", "D"),
  fpUnaryRm("fcvt.lu.d", 0x61, 3, "F_TO_X_RM", "D"),
  fpUnary("fmv.x.d", 0x71, 0, "F_TO_X", "D"),
  fpUnaryRm("fcvt.d.w", 0x69, 0, "X_TO_F_EXACT", "D"),
  fpUnaryRm("fcvt.d.wu", 0x69, 1, "X_TO_F_EXACT", "D"),
  fpUnaryRm("fcvt.d.l", 0x69, 2, "X_TO_F_RM", "D"),
  fpUnaryRm("fcvt.d.lu", 0x69, 3, "X_TO_F_RM", "D"),
  fpUnary("fmv.d.x", 0x79, 0, "X_TO_F", "D"),

  // Privileged instructions (Privileged spec 1.12 §3.3.2, §3.3.3, §4.2.1; Table "RISC-V Privileged Instructions").
  fixed("sret", INSN_SRET, "Priv"),
  fixed("mret", INSN_MRET, "Priv"),
  fixed("wfi", INSN_WFI, "Priv"),
  entry("sfence.vma", M_FUNCT7 | M_FUNCT3 | M_RD | M_OPCODE, 0x12000073, "SFENCE", "Priv"),
];

/** Index of each entry in OPCODES by name (names are unique). */
export const OPCODE_INDEX: ReadonlyMap<string, number> = new Map(OPCODES.map((e, i) => [e.name, i]));
