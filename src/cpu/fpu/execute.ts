// Decodes and executes the F and D extension computational instructions (OP-FP and the fused multiply-adds).
//
// Encodings follow the unprivileged spec, chapter 11 (F) and 12 (D) and the opcode map in chapter 34.
// Illegal encodings return false before any state changes. Arithmetic first tries the BigInt-free fast
// path (fast-path.ts) and falls back to the exact BigInt reference (softfloat.ts).

import { TWO_POW_32 } from "../../base/u64.js";
import * as fast from "./fast-path.js";
import { type CmpOperand, classify, compare, compareFlags, minMax } from "./fp-compare.js";
import { BINARY32, BINARY64, CANONICAL_NAN_D_HI, CANONICAL_NAN_S, RM_DYN, RM_RMM } from "./fp-consts.js";
import {
  dToNumber,
  isNaND,
  isNaNS,
  numberToSBits,
  readDBig,
  readSBits,
  sBitsToNumber,
  writeDBig,
  writeDNumber,
  writeSBits,
} from "./fp-regs.js";
import type { FpState } from "./fp-state.js";
import { sfAdd, sfConvert, sfDiv, sfFma, sfFromInt, sfMul, sfSqrt, softFlags } from "./softfloat.js";

const OP_FP = 0x53;
const OP_FMADD = 0x43;
const OP_FMSUB = 0x47;
const OP_FNMSUB = 0x4b;
const OP_FNMADD = 0x4f;

/** Resolves the instruction's rm field (spec §11.2): 5 and 6 are reserved; DYN uses frm, itself valid only < 5. */
function effectiveRm(s: FpState, rm: number): number {
  if (rm === RM_DYN) rm = s.frm;
  return rm <= RM_RMM ? rm : -1;
}

function sBig(bits: number): bigint {
  return BigInt(bits >>> 0);
}

function writeX(s: FpState, rd: number, lo: number, hi: number): void {
  if (rd !== 0) {
    s.x[2 * rd] = lo;
    s.x[2 * rd + 1] = hi;
  }
}

const opA: CmpOperand = { nan: 0, neg: false, value: 0 };
const opB: CmpOperand = { nan: 0, neg: false, value: 0 };

function loadOperandS(o: CmpOperand, bits: number): void {
  o.neg = bits < 0;
  if (isNaNS(bits)) {
    o.nan = bits & 0x400000 ? 1 : 2;
    o.value = 0;
  } else {
    o.nan = 0;
    o.value = sBitsToNumber(bits);
  }
}

function loadOperandD(o: CmpOperand, hi: number, lo: number): void {
  o.neg = hi < 0;
  if (isNaND(hi, lo)) {
    o.nan = hi & 0x80000 ? 1 : 2;
    o.value = 0;
  } else {
    o.nan = 0;
    o.value = dToNumber(hi, lo);
  }
}

export function executeFp(s: FpState, insn: number): boolean {
  const opcode = insn & 0x7f;
  if (opcode === OP_FP) return executeOpFp(s, insn);
  if (opcode === OP_FMADD || opcode === OP_FMSUB || opcode === OP_FNMSUB || opcode === OP_FNMADD) {
    return executeFma(s, insn, opcode);
  }
  return false;
}

/** R4-type fused multiply-add (spec §11.6): rs1*rs2 ± rs3, optionally negated, rounded once. */
function executeFma(s: FpState, insn: number, opcode: number): boolean {
  const fmt = (insn >>> 25) & 3;
  if (fmt > 1) return false;
  const rm = effectiveRm(s, (insn >>> 12) & 7);
  if (rm < 0) return false;
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const rs3 = insn >>> 27;
  // FMSUB: a*b-c; FNMSUB: -(a*b)+c; FNMADD: -(a*b)-c.
  const negProd = opcode === OP_FNMSUB || opcode === OP_FNMADD;
  const negC = opcode === OP_FMSUB || opcode === OP_FNMADD;
  const f = s.f;
  if (fmt === 1) {
    const ah = f[2 * rs1 + 1];
    const al = f[2 * rs1];
    const bh = f[2 * rs2 + 1];
    const bl = f[2 * rs2];
    const ch = f[2 * rs3 + 1];
    const cl = f[2 * rs3];
    if (!isNaND(ah, al) && !isNaND(bh, bl) && !isNaND(ch, cl)) {
      const a = dToNumber(ah, al);
      const b = dToNumber(bh, bl);
      const c = dToNumber(ch, cl);
      fast.fastFlags.v = 0;
      const r = fast.fmaD(negProd ? -a : a, b, negC ? -c : c, rm);
      if (!Number.isNaN(r)) {
        writeDNumber(f, rd, r);
        s.fflags |= fast.fastFlags.v;
        return true;
      }
    }
    softFlags.v = 0;
    const bits = sfFma(BINARY64, readDBig(f, rs1), readDBig(f, rs2), readDBig(f, rs3), rm, negProd, negC);
    writeDBig(f, rd, bits);
    s.fflags |= softFlags.v;
    return true;
  }
  const ab = readSBits(f, rs1);
  const bb = readSBits(f, rs2);
  const cb = readSBits(f, rs3);
  if (!isNaNS(ab) && !isNaNS(bb) && !isNaNS(cb)) {
    const a = sBitsToNumber(ab);
    const c = sBitsToNumber(cb);
    fast.fastFlags.v = 0;
    const r = fast.fmaS(negProd ? -a : a, sBitsToNumber(bb), negC ? -c : c, rm);
    if (!Number.isNaN(r)) {
      writeSBits(f, rd, numberToSBits(r));
      s.fflags |= fast.fastFlags.v;
      return true;
    }
  }
  softFlags.v = 0;
  const bits = sfFma(BINARY32, sBig(ab), sBig(bb), sBig(cb), rm, negProd, negC);
  writeSBits(f, rd, Number(bits) | 0);
  s.fflags |= softFlags.v;
  return true;
}

/** FADD/FSUB/FMUL/FDIV/FSQRT (funct5 0,1,2,3,11) for one format after the rm check. */
function arith(
  s: FpState,
  funct5: number,
  isD: boolean,
  rd: number,
  rs1: number,
  rs2: number,
  rm: number,
): void {
  const f = s.f;
  fast.fastFlags.v = 0;
  if (isD) {
    const ah = f[2 * rs1 + 1];
    const al = f[2 * rs1];
    const bh = f[2 * rs2 + 1];
    const bl = f[2 * rs2];
    if (!isNaND(ah, al) && !isNaND(bh, bl)) {
      const a = dToNumber(ah, al);
      const b = dToNumber(bh, bl);
      let r: number;
      switch (funct5) {
        case 0:
          r = fast.addD(a, b, rm);
          break;
        case 1:
          r = fast.addD(a, -b, rm);
          break;
        case 2:
          r = fast.mulD(a, b, rm);
          break;
        case 3:
          r = fast.divD(a, b, rm);
          break;
        default:
          r = fast.sqrtD(a, rm);
      }
      if (!Number.isNaN(r)) {
        writeDNumber(f, rd, r);
        s.fflags |= fast.fastFlags.v;
        return;
      }
    }
    softFlags.v = 0;
    const a = readDBig(f, rs1);
    const b = readDBig(f, rs2);
    let bits: bigint;
    switch (funct5) {
      case 0:
        bits = sfAdd(BINARY64, a, b, rm, false);
        break;
      case 1:
        bits = sfAdd(BINARY64, a, b, rm, true);
        break;
      case 2:
        bits = sfMul(BINARY64, a, b, rm);
        break;
      case 3:
        bits = sfDiv(BINARY64, a, b, rm);
        break;
      default:
        bits = sfSqrt(BINARY64, a, rm);
    }
    writeDBig(f, rd, bits);
    s.fflags |= softFlags.v;
    return;
  }
  const ab = readSBits(f, rs1);
  const bb = readSBits(f, rs2);
  if (!isNaNS(ab) && !isNaNS(bb)) {
    const a = sBitsToNumber(ab);
    const b = sBitsToNumber(bb);
    let r: number;
    switch (funct5) {
      case 0:
        r = fast.addS(a, b, rm);
        break;
      case 1:
        r = fast.addS(a, -b, rm);
        break;
      case 2:
        r = fast.mulS(a, b, rm);
        break;
      case 3:
        r = fast.divS(a, b, rm);
        break;
      default:
        r = fast.sqrtS(a, rm);
    }
    if (!Number.isNaN(r)) {
      writeSBits(f, rd, numberToSBits(r));
      s.fflags |= fast.fastFlags.v;
      return;
    }
  }
  softFlags.v = 0;
  const a = sBig(ab);
  const b = sBig(bb);
  let bits: bigint;
  switch (funct5) {
    case 0:
      bits = sfAdd(BINARY32, a, b, rm, false);
      break;
    case 1:
      bits = sfAdd(BINARY32, a, b, rm, true);
      break;
    case 2:
      bits = sfMul(BINARY32, a, b, rm);
      break;
    case 3:
      bits = sfDiv(BINARY32, a, b, rm);
      break;
    default:
      bits = sfSqrt(BINARY32, a, rm);
  }
  writeSBits(f, rd, Number(bits) | 0);
  s.fflags |= softFlags.v;
}

const TWO31 = 2147483648;
const TWO63 = 2 ** 63;
const TWO64 = 2 ** 64;

/**
 * FCVT.{W,WU,L,LU}.fmt of a JS number v (NaN for any NaN input) per spec §11.7 Table 11.4: NaN and
 * out-of-range values saturate with NV (and no NX); in-range inexact results raise NX.
 */
function cvtToInt(s: FpState, rd: number, v: number, kind: number, rm: number): void {
  let n = 0;
  let ok = false;
  if (!Number.isNaN(v) && Math.abs(v) !== Number.POSITIVE_INFINITY) {
    n = fast.roundToIntegral(v, rm);
    switch (kind) {
      case 0:
        ok = n >= -TWO31 && n < TWO31;
        break;
      case 1:
        ok = n >= 0 && n < TWO_POW_32; // -0 is in range
        break;
      case 2:
        ok = n >= -TWO63 && n < TWO63;
        break;
      default:
        ok = n >= 0 && n < TWO64;
    }
  }
  if (ok) {
    if (fast.integralInexact) s.fflags |= 1;
    if (kind < 2) {
      const lo = n | 0; // 32-bit results are sign-extended to XLEN (spec §12.5)
      writeX(s, rd, lo, lo >> 31);
    } else {
      const hi = Math.floor(n / TWO_POW_32);
      writeX(s, rd, (n - hi * TWO_POW_32) | 0, hi | 0);
    }
    return;
  }
  s.fflags |= 16;
  const low = v < 0; // saturate toward the input's side; NaN saturates to the maximum
  switch (kind) {
    case 0:
      writeX(s, rd, low ? -TWO31 | 0 : 0x7fffffff, low ? -1 : 0);
      break;
    case 1:
      writeX(s, rd, low ? 0 : -1, low ? 0 : -1);
      break;
    case 2:
      writeX(s, rd, low ? 0 : -1, low ? -TWO31 | 0 : 0x7fffffff);
      break;
    default:
      writeX(s, rd, low ? 0 : -1, low ? 0 : -1);
  }
}

/** FCVT.fmt.{W,WU,L,LU}: converts x[rs1] to a float. */
function cvtFromInt(s: FpState, rd: number, rs1: number, kind: number, isD: boolean, rm: number): void {
  const lo = s.x[2 * rs1];
  const hi = s.x[2 * rs1 + 1];
  let v: number;
  let exact: boolean;
  switch (kind) {
    case 0:
      v = lo;
      exact = true;
      break;
    case 1:
      v = lo >>> 0;
      exact = true;
      break;
    case 2:
      v = hi * TWO_POW_32 + (lo >>> 0);
      exact = hi >= -0x200000 && hi < 0x200000; // |v| < 2^53: the double is exact
      break;
    default:
      v = (hi >>> 0) * TWO_POW_32 + (lo >>> 0);
      exact = hi >>> 0 < 0x200000;
  }
  if (exact) {
    if (isD) {
      writeDNumber(s.f, rd, v);
      return;
    }
    fast.fastFlags.v = 0;
    const r = fast.narrowS(v, rm);
    if (!Number.isNaN(r)) {
      writeSBits(s.f, rd, numberToSBits(r));
      s.fflags |= fast.fastFlags.v;
      return;
    }
  }
  let big = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  if (kind === 0) big = BigInt(lo);
  else if (kind === 1) big = BigInt(lo >>> 0);
  else if (kind === 2) big = BigInt.asIntN(64, big);
  softFlags.v = 0;
  if (isD) writeDBig(s.f, rd, sfFromInt(BINARY64, big, rm));
  else writeSBits(s.f, rd, Number(sfFromInt(BINARY32, big, rm)) | 0);
  s.fflags |= softFlags.v;
}

function executeOpFp(s: FpState, insn: number): boolean {
  const funct7 = insn >>> 25;
  const fmt = funct7 & 3;
  if (fmt > 1) return false;
  const isD = fmt === 1;
  const funct5 = funct7 >>> 2;
  const rd = (insn >>> 7) & 31;
  const funct3 = (insn >>> 12) & 7;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const f = s.f;
  switch (funct5) {
    case 0x00: // FADD
    case 0x01: // FSUB
    case 0x02: // FMUL
    case 0x03: // FDIV
    case 0x0b: {
      // FSQRT
      if (funct5 === 0x0b && rs2 !== 0) return false;
      const rm = effectiveRm(s, funct3);
      if (rm < 0) return false;
      arith(s, funct5, isD, rd, rs1, rs2, rm);
      return true;
    }
    case 0x04: {
      // FSGNJ/FSGNJN/FSGNJX (spec §11.7): only the sign bit is computed; singles check NaN-boxing.
      if (funct3 > 2) return false;
      if (isD) {
        const a = f[2 * rs1 + 1];
        const b = f[2 * rs2 + 1];
        const sign = funct3 === 0 ? b : funct3 === 1 ? ~b : a ^ b;
        const lo = f[2 * rs1];
        f[2 * rd + 1] = (a & 0x7fffffff) | (sign & 0x80000000);
        f[2 * rd] = lo;
      } else {
        const a = readSBits(f, rs1);
        const b = readSBits(f, rs2);
        const sign = funct3 === 0 ? b : funct3 === 1 ? ~b : a ^ b;
        writeSBits(f, rd, (a & 0x7fffffff) | (sign & 0x80000000));
      }
      return true;
    }
    case 0x05: {
      // FMIN/FMAX
      if (funct3 > 1) return false;
      compareFlags.v = 0;
      if (isD) {
        const ah = f[2 * rs1 + 1];
        const al = f[2 * rs1];
        const bh = f[2 * rs2 + 1];
        const bl = f[2 * rs2];
        loadOperandD(opA, ah, al);
        loadOperandD(opB, bh, bl);
        const pick = minMax(opA, opB, funct3 === 1);
        f[2 * rd + 1] = pick === 0 ? ah : pick === 1 ? bh : CANONICAL_NAN_D_HI;
        f[2 * rd] = pick === 0 ? al : pick === 1 ? bl : 0;
      } else {
        const a = readSBits(f, rs1);
        const b = readSBits(f, rs2);
        loadOperandS(opA, a);
        loadOperandS(opB, b);
        const pick = minMax(opA, opB, funct3 === 1);
        writeSBits(f, rd, pick === 0 ? a : pick === 1 ? b : CANONICAL_NAN_S);
      }
      s.fflags |= compareFlags.v;
      return true;
    }
    case 0x08: {
      // FCVT.S.D (fmt S, rs2 = 1) and FCVT.D.S (fmt D, rs2 = 0)
      if (rs2 !== (isD ? 0 : 1)) return false;
      const rm = effectiveRm(s, funct3);
      if (rm < 0) return false;
      if (isD) {
        const a = readSBits(f, rs1);
        if (!isNaNS(a)) {
          writeDNumber(f, rd, sBitsToNumber(a)); // widening is exact
          return true;
        }
        softFlags.v = 0;
        writeDBig(f, rd, sfConvert(BINARY32, BINARY64, sBig(a), rm));
        s.fflags |= softFlags.v;
        return true;
      }
      const ah = f[2 * rs1 + 1];
      const al = f[2 * rs1];
      if (!isNaND(ah, al)) {
        fast.fastFlags.v = 0;
        const r = fast.narrowS(dToNumber(ah, al), rm);
        if (!Number.isNaN(r)) {
          writeSBits(f, rd, numberToSBits(r));
          s.fflags |= fast.fastFlags.v;
          return true;
        }
      }
      softFlags.v = 0;
      writeSBits(f, rd, Number(sfConvert(BINARY64, BINARY32, readDBig(f, rs1), rm)) | 0);
      s.fflags |= softFlags.v;
      return true;
    }
    case 0x14: {
      // FLE (0), FLT (1), FEQ (2)
      if (funct3 > 2) return false;
      compareFlags.v = 0;
      if (isD) {
        loadOperandD(opA, f[2 * rs1 + 1], f[2 * rs1]);
        loadOperandD(opB, f[2 * rs2 + 1], f[2 * rs2]);
      } else {
        loadOperandS(opA, readSBits(f, rs1));
        loadOperandS(opB, readSBits(f, rs2));
      }
      const r = compare(opA, opB, funct3);
      s.fflags |= compareFlags.v;
      writeX(s, rd, r, 0);
      return true;
    }
    case 0x18: {
      // FCVT.{W,WU,L,LU}.fmt
      if (rs2 > 3) return false;
      const rm = effectiveRm(s, funct3);
      if (rm < 0) return false;
      let v: number;
      if (isD) {
        const ah = f[2 * rs1 + 1];
        const al = f[2 * rs1];
        v = isNaND(ah, al) ? Number.NaN : dToNumber(ah, al);
      } else {
        const a = readSBits(f, rs1);
        v = isNaNS(a) ? Number.NaN : sBitsToNumber(a);
      }
      cvtToInt(s, rd, v, rs2, rm);
      return true;
    }
    case 0x1a: {
      // FCVT.fmt.{W,WU,L,LU}
      if (rs2 > 3) return false;
      const rm = effectiveRm(s, funct3);
      if (rm < 0) return false;
      cvtFromInt(s, rd, rs1, rs2, isD, rm);
      return true;
    }
    case 0x1c: {
      // FMV.X.W / FMV.X.D (funct3 0) and FCLASS (funct3 1)
      if (rs2 !== 0 || funct3 > 1) return false;
      const hi = f[2 * rs1 + 1];
      const lo = f[2 * rs1];
      if (funct3 === 0) {
        // Transfers move bits unchanged and do not check NaN-boxing (spec §12.2).
        if (isD) writeX(s, rd, lo, hi);
        else writeX(s, rd, lo, lo >> 31);
        return true;
      }
      let cls: number;
      if (isD) {
        const e = (hi >>> 20) & 0x7ff;
        cls = classify(hi < 0, e === 0, e === 0x7ff, ((hi & 0xfffff) | lo) === 0, (hi & 0x80000) !== 0);
      } else {
        const a = readSBits(f, rs1);
        const e = (a >>> 23) & 0xff;
        cls = classify(a < 0, e === 0, e === 0xff, (a & 0x7fffff) === 0, (a & 0x400000) !== 0);
      }
      writeX(s, rd, cls, 0);
      return true;
    }
    case 0x1e: {
      // FMV.W.X / FMV.D.X
      if (rs2 !== 0 || funct3 !== 0) return false;
      const lo = s.x[2 * rs1];
      if (isD) {
        f[2 * rd] = lo;
        f[2 * rd + 1] = s.x[2 * rs1 + 1];
      } else {
        writeSBits(f, rd, lo);
      }
      return true;
    }
    default:
      return false;
  }
}
