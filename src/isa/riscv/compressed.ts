/** Expansion of 16-bit RVC instructions (RV64GC "C" extension) into the equivalent 32-bit instruction words. */

// Everything here follows the RISC-V Unprivileged ISA spec (20191213), chapter 16 "C" Standard Extension:
// §16.3 formats (Table 16.1) and the register-number mapping of the 3-bit rs1'/rs2'/rd' fields (Table 16.2:
// x8..x15 / f8..f15), §16.4–16.8 the instruction semantics, and §16.8 the opcode map (Tables 16.5–16.7).
// RV64 choices: funct3 001 of quadrant 1 is C.ADDIW (C.JAL is RV32-only), funct3 011 of quadrants 0 and 2
// is C.LD / C.LDSP, funct3 111 is C.SD / C.SDSP, shift amounts have 6 bits. The D extension is present, so
// funct3 001/101 are C.FLD/C.FSD/C.FLDSP/C.FSDSP. Zcb is not implemented: its encodings stay reserved.
//
// HINT encodings (e.g. C.ADDI with imm=0, C.LI/C.MV/C.ADD/C.SLLI with rd=x0, C.LUI with rd=x0) expand to
// their base instruction, which is harmless: writes to x0 are discarded.
// Reserved encodings return 0; the all-zero halfword is defined to be illegal (§16.5).

import {
  BRANCH,
  INSN_EBREAK,
  JAL,
  JALR,
  LOAD,
  LOAD_FP,
  LUI,
  OP,
  OP_32,
  OP_IMM,
  OP_IMM_32,
  STORE,
  STORE_FP,
} from "./opcodes.js";

// Base-format encoders (Unprivileged spec §2.3, Figure 2.3). `imm` is the signed or unsigned immediate value;
// only its architecturally encoded bits are used. Results are signed int32 like Int32Array elements.
function rType(funct7: number, rs2: number, rs1: number, funct3: number, rd: number, opcode: number): number {
  return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode;
}
function iType(imm: number, rs1: number, funct3: number, rd: number, opcode: number): number {
  return ((imm & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode;
}
function sType(imm: number, rs2: number, rs1: number, funct3: number, opcode: number): number {
  return (
    (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | ((imm & 0x1f) << 7) | opcode
  );
}
function bType(imm: number, rs2: number, rs1: number, funct3: number): number {
  return (
    (((imm >> 12) & 1) << 31) |
    (((imm >> 5) & 0x3f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (funct3 << 12) |
    (((imm >> 1) & 0xf) << 8) |
    (((imm >> 11) & 1) << 7) |
    BRANCH
  );
}
function jType(imm: number, rd: number): number {
  return (
    (((imm >> 20) & 1) << 31) |
    (((imm >> 1) & 0x3ff) << 21) |
    (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) |
    (rd << 7) |
    JAL
  );
}

/** Bit `i` of `h`, moved to position `to`. */
function bit(h: number, i: number, to: number): number {
  return ((h >> i) & 1) << to;
}

/** Sign-extend the low `bits` bits of `v`. */
function sext(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}

/** The 6-bit CI-format immediate imm[5]=inst[12], imm[4:0]=inst[6:2], sign-extended (C.ADDI, C.LI, C.ANDI, ...). */
function ciImm(h: number): number {
  return sext(bit(h, 12, 5) | ((h >> 2) & 0x1f), 6);
}
/** The 6-bit CI-format shift amount shamt[5]=inst[12], shamt[4:0]=inst[6:2] (unsigned). */
function ciShamt(h: number): number {
  return bit(h, 12, 5) | ((h >> 2) & 0x1f);
}
/** CL/CS-format doubleword offset (C.LD/C.SD/C.FLD/C.FSD): uimm[5:3]=inst[12:10], uimm[7:6]=inst[6:5]. */
function clDoubleOffset(h: number): number {
  return (((h >> 10) & 7) << 3) | (((h >> 5) & 3) << 6);
}
/** CL/CS-format word offset (C.LW/C.SW): uimm[5:3]=inst[12:10], uimm[2]=inst[6], uimm[6]=inst[5]. */
function clWordOffset(h: number): number {
  return (((h >> 10) & 7) << 3) | bit(h, 6, 2) | bit(h, 5, 6);
}

/** CI-format stack-relative doubleword offset (C.LDSP/C.FLDSP): uimm[5]=inst[12], uimm[4:3|8:6]=inst[6:5|4:2]. */
function spLoadDoubleOffset(h: number): number {
  return bit(h, 12, 5) | (((h >> 5) & 3) << 3) | (((h >> 2) & 7) << 6);
}
/** CSS-format stack-relative doubleword offset (C.SDSP/C.FSDSP): uimm[5:3|8:6]=inst[12:10|9:7]. */
function spStoreDoubleOffset(h: number): number {
  return (((h >> 10) & 7) << 3) | (((h >> 7) & 7) << 6);
}

/** The rd'/rs1'/rs2' field at bit `lo` mapped to x8..x15 (Table 16.2). */
function creg(h: number, lo: number): number {
  return 8 + ((h >> lo) & 7);
}

/**
 * Expand the 16-bit compressed instruction `h` (its low two bits must not be 11) to the equivalent 32-bit
 * instruction word, as a signed int32 (use `>>> 0` for the unsigned value). Returns 0 for illegal and reserved
 * encodings; 0 is itself not a valid 32-bit instruction, so callers raise an illegal-instruction trap on it.
 */
export function expandCompressed(h: number): number {
  h &= 0xffff;
  const funct3 = h >> 13;
  const rdFull = (h >> 7) & 0x1f; // rd / rs1 in CR, CI, CSS formats
  const rs2Full = (h >> 2) & 0x1f; // rs2 in CR, CSS formats
  switch (h & 3) {
    case 0: {
      // Quadrant 0 (Table 16.5).
      const rdP = creg(h, 2); // rd' / rs2'
      const rs1P = creg(h, 7);
      switch (funct3) {
        case 0: {
          // C.ADDI4SPN: addi rd', x2, nzuimm; nzuimm[5:4|9:6|2|3] = inst[12:11|10:7|6|5]. nzuimm=0 is reserved
          // (this also covers the all-zero halfword, defined illegal).
          const nzuimm = (((h >> 11) & 3) << 4) | (((h >> 7) & 0xf) << 6) | bit(h, 6, 2) | bit(h, 5, 3);
          if (nzuimm === 0) return 0;
          return iType(nzuimm, 2, 0, rdP, OP_IMM);
        }
        case 1: // C.FLD: fld rd', uimm(rs1')
          return iType(clDoubleOffset(h), rs1P, 3, rdP, LOAD_FP);
        case 2: // C.LW: lw rd', uimm(rs1')
          return iType(clWordOffset(h), rs1P, 2, rdP, LOAD);
        case 3: // C.LD (RV64): ld rd', uimm(rs1')
          return iType(clDoubleOffset(h), rs1P, 3, rdP, LOAD);
        case 4: // reserved (Zcb's C.LBU etc. are not implemented)
          return 0;
        case 5: // C.FSD: fsd rs2', uimm(rs1')
          return sType(clDoubleOffset(h), rdP, rs1P, 3, STORE_FP);
        case 6: // C.SW: sw rs2', uimm(rs1')
          return sType(clWordOffset(h), rdP, rs1P, 2, STORE);
        default: // 7, C.SD (RV64): sd rs2', uimm(rs1')
          return sType(clDoubleOffset(h), rdP, rs1P, 3, STORE);
      }
    }
    case 1: {
      // Quadrant 1 (Table 16.6).
      switch (funct3) {
        case 0: // C.ADDI / C.NOP (rd=0); imm=0 or rd=0 with imm≠0 are HINTs: addi rd, rd, imm
          return iType(ciImm(h), rdFull, 0, rdFull, OP_IMM);
        case 1: // C.ADDIW (RV64): addiw rd, rd, imm; rd=0 is reserved
          if (rdFull === 0) return 0;
          return iType(ciImm(h), rdFull, 0, rdFull, OP_IMM_32);
        case 2: // C.LI: addi rd, x0, imm (rd=0 is a HINT)
          return iType(ciImm(h), 0, 0, rdFull, OP_IMM);
        case 3: {
          if (rdFull === 2) {
            // C.ADDI16SP: addi x2, x2, nzimm; nzimm[9]=inst[12], nzimm[4|6|8:7|5]=inst[6|5|4:3|2]; 0 is reserved
            const nzimm = sext(
              bit(h, 12, 9) | bit(h, 6, 4) | bit(h, 5, 6) | (((h >> 3) & 3) << 7) | bit(h, 2, 5),
              10,
            );
            if (nzimm === 0) return 0;
            return iType(nzimm, 2, 0, 2, OP_IMM);
          }
          // C.LUI: lui rd, nzimm; nzimm[17]=inst[12], nzimm[16:12]=inst[6:2]; 0 is reserved, rd=0 is a HINT.
          const imm6 = ciImm(h);
          if (imm6 === 0) return 0;
          return (imm6 << 12) | (rdFull << 7) | LUI;
        }
        case 4: {
          // MISC-ALU on rd'/rs1' = inst[9:7].
          const rd = creg(h, 7);
          switch ((h >> 10) & 3) {
            case 0: // C.SRLI: srli rd', rd', shamt (shamt=0 is a HINT)
              return iType(ciShamt(h), rd, 5, rd, OP_IMM);
            case 1: // C.SRAI: srai rd', rd', shamt (funct6 010000)
              return iType(0x400 | ciShamt(h), rd, 5, rd, OP_IMM);
            case 2: // C.ANDI: andi rd', rd', imm
              return iType(ciImm(h), rd, 7, rd, OP_IMM);
            default: {
              const rs2 = creg(h, 2);
              const sel = (h >> 5) & 3;
              if ((h & 0x1000) === 0) {
                switch (sel) {
                  case 0: // C.SUB
                    return rType(0x20, rs2, rd, 0, rd, OP);
                  case 1: // C.XOR
                    return rType(0, rs2, rd, 4, rd, OP);
                  case 2: // C.OR
                    return rType(0, rs2, rd, 6, rd, OP);
                  default: // C.AND
                    return rType(0, rs2, rd, 7, rd, OP);
                }
              }
              if (sel === 0) return rType(0x20, rs2, rd, 0, rd, OP_32); // C.SUBW
              if (sel === 1) return rType(0, rs2, rd, 0, rd, OP_32); // C.ADDW
              return 0; // reserved (Zcb's C.MUL and friends are not implemented)
            }
          }
        }
        case 5: {
          // C.J: jal x0, imm; imm[11|4|9:8|10|6|7|3:1|5] = inst[12|11|10:9|8|7|6|5:3|2]
          const imm = sext(
            bit(h, 12, 11) |
              bit(h, 11, 4) |
              (((h >> 9) & 3) << 8) |
              bit(h, 8, 10) |
              bit(h, 7, 6) |
              bit(h, 6, 7) |
              (((h >> 3) & 7) << 1) |
              bit(h, 2, 5),
            12,
          );
          return jType(imm, 0);
        }
        default: {
          // C.BEQZ (6) / C.BNEZ (7): beq/bne rs1', x0, imm; imm[8|4:3]=inst[12|11:10], imm[7:6|2:1|5]=inst[6:5|4:3|2]
          const imm = sext(
            bit(h, 12, 8) |
              (((h >> 10) & 3) << 3) |
              (((h >> 5) & 3) << 6) |
              (((h >> 3) & 3) << 1) |
              bit(h, 2, 5),
            9,
          );
          return bType(imm, 0, creg(h, 7), funct3 === 6 ? 0 : 1);
        }
      }
    }
    case 2: {
      // Quadrant 2 (Table 16.7).
      switch (funct3) {
        case 0: // C.SLLI: slli rd, rd, shamt (rd=0 or shamt=0 are HINTs)
          return iType(ciShamt(h), rdFull, 1, rdFull, OP_IMM);
        case 1: // C.FLDSP: fld rd, uimm(x2); uimm[5]=inst[12], uimm[4:3|8:6]=inst[6:5|4:2]
          return iType(spLoadDoubleOffset(h), 2, 3, rdFull, LOAD_FP);
        case 2: {
          // C.LWSP: lw rd, uimm(x2); uimm[5]=inst[12], uimm[4:2|7:6]=inst[6:4|3:2]; rd=0 is reserved
          if (rdFull === 0) return 0;
          const uimm = bit(h, 12, 5) | (((h >> 4) & 7) << 2) | (((h >> 2) & 3) << 6);
          return iType(uimm, 2, 2, rdFull, LOAD);
        }
        case 3: // C.LDSP (RV64): ld rd, uimm(x2); rd=0 is reserved
          if (rdFull === 0) return 0;
          return iType(spLoadDoubleOffset(h), 2, 3, rdFull, LOAD);
        case 4:
          if ((h & 0x1000) === 0) {
            if (rs2Full === 0) {
              // C.JR: jalr x0, 0(rs1); rs1=0 is reserved
              if (rdFull === 0) return 0;
              return iType(0, rdFull, 0, 0, JALR);
            }
            return rType(0, rs2Full, 0, 0, rdFull, OP); // C.MV: add rd, x0, rs2 (rd=0 is a HINT)
          }
          if (rs2Full === 0) {
            if (rdFull === 0) return INSN_EBREAK; // C.INSN_EBREAK
            return iType(0, rdFull, 0, 1, JALR); // C.JALR: jalr x1, 0(rs1)
          }
          return rType(0, rs2Full, rdFull, 0, rdFull, OP); // C.ADD: add rd, rd, rs2 (rd=0 is a HINT)
        case 5: // C.FSDSP: fsd rs2, uimm(x2); uimm[5:3|8:6]=inst[12:10|9:7]
          return sType(spStoreDoubleOffset(h), rs2Full, 2, 3, STORE_FP);
        case 6: {
          // C.SWSP: sw rs2, uimm(x2); uimm[5:2|7:6]=inst[12:9|8:7]
          const uimm = (((h >> 9) & 0xf) << 2) | (((h >> 7) & 3) << 6);
          return sType(uimm, rs2Full, 2, 2, STORE);
        }
        default: // 7, C.SDSP (RV64): sd rs2, uimm(x2)
          return sType(spStoreDoubleOffset(h), rs2Full, 2, 3, STORE);
      }
    }
    default: // low bits 11: not a compressed instruction
      return 0;
  }
}

/**
 * `RVC_TABLE[h] = expandCompressed(h)` for every halfword `h`; entries whose low two bits are 11 (not
 * compressed) are 0. Built eagerly at module load (a few milliseconds) so the interpreter's fetch path is one
 * typed-array load with no lazy-initialisation check.
 */
export const RVC_TABLE: Int32Array = buildRvcTable();

/** Builds the expansion table; exported for the build-time test. */
export function buildRvcTable(): Int32Array {
  const table = new Int32Array(0x10000);
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 3) !== 3) table[h] = expandCompressed(h);
  }
  return table;
}
