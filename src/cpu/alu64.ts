/**
 * 64-bit multiply and divide on int32 pairs (RISC-V unprivileged spec chapter 7, "M" extension).
 * Results land in the module-level `res` pair so the interpreter avoids allocating.
 */
import { TWO_POW_32 } from "../base/u64.js";

/** Result of the last operation: low and high words. */
export const res = { lo: 0, hi: 0 };

/** High 32 bits of the unsigned 32x32 product. */
export function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

/** MUL: low 64 bits of the product. */
export function mul64(alo: number, ahi: number, blo: number, bhi: number): void {
  res.lo = Math.imul(alo, blo);
  res.hi = (mulhu32(alo, blo) + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
}

/** MULHU: high 64 bits of the unsigned 128-bit product, by 32-bit limbs. */
export function mulhu64(alo: number, ahi: number, blo: number, bhi: number): void {
  // Partial products as (lo, hi) pairs of 64-bit values.
  const ll_hi = mulhu32(alo, blo) >>> 0;
  const lh_lo = Math.imul(alo, bhi) >>> 0;
  const lh_hi = mulhu32(alo, bhi) >>> 0;
  const hl_lo = Math.imul(ahi, blo) >>> 0;
  const hl_hi = mulhu32(ahi, blo) >>> 0;
  const hh_lo = Math.imul(ahi, bhi) >>> 0;
  const hh_hi = mulhu32(ahi, bhi) >>> 0;
  // Word 1 (bits 63:32) = ll_hi + lh_lo + hl_lo; its carry goes into word 2.
  const w1 = ll_hi + lh_lo + hl_lo;
  const c1 = Math.floor(w1 / TWO_POW_32);
  const w2 = lh_hi + hl_hi + hh_lo + c1;
  const c2 = Math.floor(w2 / TWO_POW_32);
  res.lo = w2 | 0;
  res.hi = (hh_hi + c2) | 0;
}

/** MULH: signed × signed, high 64 bits: the unsigned product corrected for negative operands. */
export function mulh64(alo: number, ahi: number, blo: number, bhi: number): void {
  mulhu64(alo, ahi, blo, bhi);
  let lo = res.lo;
  let hi = res.hi;
  if (ahi < 0) [lo, hi] = sub(lo, hi, blo, bhi);
  if (bhi < 0) [lo, hi] = sub(lo, hi, alo, ahi);
  res.lo = lo;
  res.hi = hi;
}

/** MULHSU: signed × unsigned, high 64 bits. */
export function mulhsu64(alo: number, ahi: number, blo: number, bhi: number): void {
  mulhu64(alo, ahi, blo, bhi);
  if (ahi < 0) {
    const [lo, hi] = sub(res.lo, res.hi, blo, bhi);
    res.lo = lo;
    res.hi = hi;
  }
}

function sub(alo: number, ahi: number, blo: number, bhi: number): [number, number] {
  const lo = (alo - blo) | 0;
  const borrow = alo >>> 0 < blo >>> 0 ? 1 : 0;
  return [lo, (ahi - bhi - borrow) | 0];
}

function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}

function fromBig(v: bigint): void {
  const u = BigInt.asUintN(64, v);
  res.lo = Number(u & 0xffffffffn) | 0;
  res.hi = Number(u >> 32n) | 0;
}

function setNum(v: number): void {
  res.lo = v | 0;
  res.hi = Math.floor(v / TWO_POW_32) | 0;
}

/** Division by zero (spec table 7.1): the quotient is all ones and the remainder is the dividend. */
function divideByZero(alo: number, ahi: number, rem: boolean): void {
  res.lo = rem ? alo : -1;
  res.hi = rem ? ahi : -1;
}

/**
 * DIV/REM (signed). Division by zero gives quotient -1 and remainder = dividend; INT64_MIN / -1 gives
 * quotient INT64_MIN and remainder 0 (spec 7.2, table 7.1). Operands that fit in int32 take the fast path
 * (exact in doubles); others use BigInt, which is rare in practice.
 */
export function div64(alo: number, ahi: number, blo: number, bhi: number, rem: boolean): void {
  if ((blo | bhi) === 0) {
    divideByZero(alo, ahi, rem);
    return;
  }
  if (ahi === alo >> 31 && bhi === blo >> 31) {
    const q = Math.trunc(alo / blo);
    setNum(rem ? alo - q * blo : q);
    return;
  }
  const a = toBig(alo, ahi);
  const b = toBig(blo, bhi);
  if (a === -(1n << 63n) && b === -1n) {
    if (rem) setNum(0);
    else fromBig(a);
    return;
  }
  fromBig(rem ? a % b : a / b);
}

/** DIVU/REMU: division by zero gives all ones / the dividend. */
export function divu64(alo: number, ahi: number, blo: number, bhi: number, rem: boolean): void {
  if ((blo | bhi) === 0) {
    divideByZero(alo, ahi, rem);
    return;
  }
  if (ahi === 0 && bhi === 0) {
    const a = alo >>> 0;
    const b = blo >>> 0;
    const q = Math.floor(a / b);
    const v = rem ? a - q * b : q;
    res.lo = v | 0;
    res.hi = 0;
    return;
  }
  const a = BigInt.asUintN(64, toBig(alo, ahi));
  const b = BigInt.asUintN(64, toBig(blo, bhi));
  fromBig(rem ? a % b : a / b);
}

/** DIVW/REMW and unsigned variants on the low words; the 32-bit result is sign-extended by the caller. */
export function div32(a: number, b: number, rem: boolean, unsigned: boolean): number {
  if (b === 0) return rem ? a : -1;
  if (unsigned) {
    const ua = a >>> 0;
    const ub = b >>> 0;
    const q = Math.floor(ua / ub);
    return (rem ? ua - q * ub : q) | 0;
  }
  if (a === -0x80000000 && b === -1) return rem ? 0 : a;
  const q = Math.trunc(a / b);
  return (rem ? a - q * b : q) | 0;
}
