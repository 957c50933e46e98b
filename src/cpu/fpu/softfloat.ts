// Exact, BigInt-based IEEE 754 arithmetic on raw bit patterns: the slow reference path of the FPU.
//
// Every finite operand is unpacked to sig * 2^exp with an integer significand, the operation is carried out
// exactly (or with a sticky bit for division and square root), and `roundPack` rounds once. Results follow the
// RISC-V rules: NaN results are canonical (spec §11.3), and tininess is detected after rounding (§11.6).
// Flags are ORed into `softFlags.v`; the caller collects them.

import {
  FLAG_DZ,
  FLAG_NV,
  FLAG_NX,
  FLAG_OF,
  FLAG_UF,
  type FloatFormat,
  RM_RDN,
  RM_RMM,
  RM_RNE,
  RM_RTZ,
  RM_RUP,
} from "./fp-consts.js";

/** Flags raised by the slow-path operations since the caller last cleared them. */
export const softFlags = { v: 0 };

const K_ZERO = 0;
const K_FINITE = 1;
const K_INF = 2;
const K_QNAN = 3;
const K_SNAN = 4;

/** An unpacked operand; for K_FINITE the value is (-1)^sign * sig * 2^exp with sig > 0. */
interface Unpacked {
  kind: number;
  sign: number;
  sig: bigint;
  exp: number;
}

function unpack(fmt: FloatFormat, bits: bigint): Unpacked {
  const fb = BigInt(fmt.fracBits);
  const frac = bits & ((1n << fb) - 1n);
  const e = Number((bits >> fb) & ((1n << BigInt(fmt.expBits)) - 1n));
  const sign = Number((bits >> BigInt(fmt.expBits + fmt.fracBits)) & 1n);
  const emaxField = (1 << fmt.expBits) - 1;
  if (e === emaxField) {
    if (frac === 0n) return { kind: K_INF, sign, sig: 0n, exp: 0 };
    // The quiet bit is the most significant fraction bit (IEEE 754-2008 §6.2.1, used by RISC-V).
    const quiet = (frac >> (fb - 1n)) & 1n;
    return { kind: quiet ? K_QNAN : K_SNAN, sign, sig: 0n, exp: 0 };
  }
  if (e === 0) {
    if (frac === 0n) return { kind: K_ZERO, sign, sig: 0n, exp: 0 };
    return { kind: K_FINITE, sign, sig: frac, exp: 1 - fmt.bias - fmt.fracBits };
  }
  return { kind: K_FINITE, sign, sig: frac | (1n << fb), exp: e - fmt.bias - fmt.fracBits };
}

function isNaNKind(k: number): boolean {
  return k === K_QNAN || k === K_SNAN;
}

/** Bits of the canonical NaN (spec §11.3: sign 0, quiet bit set, rest 0). */
export function canonicalNaN(fmt: FloatFormat): bigint {
  return ((1n << BigInt(fmt.expBits + 1)) - 1n) << BigInt(fmt.fracBits - 1);
}

function signBit(fmt: FloatFormat, sign: number): bigint {
  return sign ? 1n << BigInt(fmt.expBits + fmt.fracBits) : 0n;
}

function infBits(fmt: FloatFormat, sign: number): bigint {
  return signBit(fmt, sign) | (((1n << BigInt(fmt.expBits)) - 1n) << BigInt(fmt.fracBits));
}

function maxFiniteBits(fmt: FloatFormat, sign: number): bigint {
  return infBits(fmt, sign) - 1n;
}

function zeroBits(fmt: FloatFormat, sign: number): bigint {
  return signBit(fmt, sign);
}

export function bitLength(x: bigint): number {
  let n = 0;
  while (x >= 1n << 64n) {
    x >>= 64n;
    n += 64;
  }
  while (x > 0n) {
    x >>= 1n;
    n++;
  }
  return n;
}

/** Result of a rounding shift: the rounded integer and whether bits were lost. */
let shiftInexact = false;

/** Rounds sig / 2^shift to an integer in mode rm for a value of the given sign (shift <= 0 is exact). */
function roundShift(sig: bigint, shift: number, sign: number, rm: number): bigint {
  if (shift <= 0) {
    shiftInexact = false;
    return sig << BigInt(-shift);
  }
  const sh = BigInt(shift);
  const q = sig >> sh;
  const rem = sig & ((1n << sh) - 1n);
  shiftInexact = rem !== 0n;
  if (rem === 0n) return q;
  const half = 1n << (sh - 1n);
  let up = false;
  switch (rm) {
    case RM_RNE:
      up = rem > half || (rem === half && (q & 1n) === 1n);
      break;
    case RM_RTZ:
      up = false;
      break;
    case RM_RDN:
      up = sign === 1;
      break;
    case RM_RUP:
      up = sign === 0;
      break;
    case RM_RMM:
      up = rem >= half;
      break;
  }
  return up ? q + 1n : q;
}

/** The result of an overflow in mode rm (IEEE 754-2019 §7.4). */
function overflowBits(fmt: FloatFormat, sign: number, rm: number): bigint {
  const toInf =
    rm === RM_RNE || rm === RM_RMM || (rm === RM_RDN && sign === 1) || (rm === RM_RUP && sign === 0);
  return toInf ? infBits(fmt, sign) : maxFiniteBits(fmt, sign);
}

/** Rounds (-1)^sign * sig * 2^exp (sig > 0) into fmt, raising NX/UF/OF. */
export function roundPack(fmt: FloatFormat, sign: number, sig: bigint, exp: number, rm: number): bigint {
  const p = fmt.fracBits + 1;
  const emin = 1 - fmt.bias;
  const emax = fmt.bias;
  const n = bitLength(sig);
  const e0 = exp + n - 1; // exponent of the exact value's leading bit
  // Round to p bits with an unbounded exponent range: this decides overflow and, per RISC-V
  // (spec §11.6: "tininess is detected after rounding"), tininess.
  let m1 = roundShift(sig, n - p, sign, rm);
  const inexact1 = shiftInexact;
  let e1 = exp + (n - p);
  if (m1 >> BigInt(p) !== 0n) {
    m1 >>= 1n;
    e1 += 1;
  }
  const eRounded = e1 + p - 1;
  if (eRounded > emax) {
    softFlags.v |= FLAG_OF | FLAG_NX;
    return overflowBits(fmt, sign, rm);
  }
  if (e0 < emin) {
    const tiny = eRounded < emin;
    // Round at the fixed subnormal quantum 2^(emin-p+1); a carry into bit p-1 yields the smallest normal,
    // whose encoding is exactly m2 with the exponent field 1.
    const m2 = roundShift(sig, emin - (p - 1) - exp, sign, rm);
    if (shiftInexact) {
      softFlags.v |= tiny ? FLAG_NX | FLAG_UF : FLAG_NX;
    }
    return signBit(fmt, sign) | m2;
  }
  if (inexact1) softFlags.v |= FLAG_NX;
  const hidden = 1n << BigInt(fmt.fracBits);
  return signBit(fmt, sign) | (BigInt(eRounded + fmt.bias) << BigInt(fmt.fracBits)) | (m1 - hidden);
}

/** NaN propagation for arithmetic: NV if any input is signalling; the result is the canonical NaN. */
function nanResult(fmt: FloatFormat, ...ks: number[]): bigint {
  for (const k of ks) if (k === K_SNAN) softFlags.v |= FLAG_NV;
  return canonicalNaN(fmt);
}

/** Exact sum of two finite-or-zero signed magnitudes, then one rounding. */
function addUnpacked(fmt: FloatFormat, a: Unpacked, b: Unpacked, rm: number): bigint {
  if (a.kind === K_ZERO && b.kind === K_ZERO) {
    // IEEE 754-2019 §6.3: x + x keeps the sign of x; an exact zero sum of opposite signs is +0 (-0 in RDN).
    return zeroBits(fmt, a.sign === b.sign ? a.sign : rm === RM_RDN ? 1 : 0);
  }
  if (a.kind === K_ZERO) return roundPack(fmt, b.sign, b.sig, b.exp, rm);
  if (b.kind === K_ZERO) return roundPack(fmt, a.sign, a.sig, a.exp, rm);
  const e = Math.min(a.exp, b.exp);
  const va = (a.sign ? -a.sig : a.sig) << BigInt(a.exp - e);
  const vb = (b.sign ? -b.sig : b.sig) << BigInt(b.exp - e);
  const sum = va + vb;
  if (sum === 0n) return zeroBits(fmt, rm === RM_RDN ? 1 : 0);
  return sum < 0n ? roundPack(fmt, 1, -sum, e, rm) : roundPack(fmt, 0, sum, e, rm);
}

/** a + b, or a - b when `sub` (FADD/FSUB). */
export function sfAdd(fmt: FloatFormat, abits: bigint, bbits: bigint, rm: number, sub: boolean): bigint {
  const a = unpack(fmt, abits);
  const b = unpack(fmt, bbits);
  if (sub) b.sign ^= 1;
  if (isNaNKind(a.kind) || isNaNKind(b.kind)) return nanResult(fmt, a.kind, b.kind);
  if (a.kind === K_INF || b.kind === K_INF) {
    if (a.kind === K_INF && b.kind === K_INF && a.sign !== b.sign) {
      softFlags.v |= FLAG_NV;
      return canonicalNaN(fmt);
    }
    return infBits(fmt, a.kind === K_INF ? a.sign : b.sign);
  }
  return addUnpacked(fmt, a, b, rm);
}

export function sfMul(fmt: FloatFormat, abits: bigint, bbits: bigint, rm: number): bigint {
  const a = unpack(fmt, abits);
  const b = unpack(fmt, bbits);
  if (isNaNKind(a.kind) || isNaNKind(b.kind)) return nanResult(fmt, a.kind, b.kind);
  const sign = a.sign ^ b.sign;
  if (a.kind === K_INF || b.kind === K_INF) {
    if (a.kind === K_ZERO || b.kind === K_ZERO) {
      softFlags.v |= FLAG_NV;
      return canonicalNaN(fmt);
    }
    return infBits(fmt, sign);
  }
  if (a.kind === K_ZERO || b.kind === K_ZERO) return zeroBits(fmt, sign);
  return roundPack(fmt, sign, a.sig * b.sig, a.exp + b.exp, rm);
}

export function sfDiv(fmt: FloatFormat, abits: bigint, bbits: bigint, rm: number): bigint {
  const a = unpack(fmt, abits);
  const b = unpack(fmt, bbits);
  if (isNaNKind(a.kind) || isNaNKind(b.kind)) return nanResult(fmt, a.kind, b.kind);
  const sign = a.sign ^ b.sign;
  if (a.kind === K_INF) {
    if (b.kind === K_INF) {
      softFlags.v |= FLAG_NV;
      return canonicalNaN(fmt);
    }
    return infBits(fmt, sign);
  }
  if (b.kind === K_INF) return zeroBits(fmt, sign);
  if (b.kind === K_ZERO) {
    if (a.kind === K_ZERO) {
      softFlags.v |= FLAG_NV;
      return canonicalNaN(fmt);
    }
    softFlags.v |= FLAG_DZ;
    return infBits(fmt, sign);
  }
  if (a.kind === K_ZERO) return zeroBits(fmt, sign);
  // Quotient with at least p+2 significant bits plus a sticky bit: enough for correct rounding.
  const p = fmt.fracBits + 1;
  const k = Math.max(0, p + 3 + bitLength(b.sig) - bitLength(a.sig));
  const num = a.sig << BigInt(k);
  let q = num / b.sig;
  if (num % b.sig !== 0n) q = (q << 1n) | 1n;
  else q <<= 1n;
  return roundPack(fmt, sign, q, a.exp - k - b.exp - 1, rm);
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  // Newton iteration from an over-estimate; converges monotonically downward.
  let x = 1n << BigInt((bitLength(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function sfSqrt(fmt: FloatFormat, abits: bigint, rm: number): bigint {
  const a = unpack(fmt, abits);
  if (isNaNKind(a.kind)) return nanResult(fmt, a.kind);
  if (a.kind === K_ZERO) return zeroBits(fmt, a.sign); // sqrt(-0) = -0 (IEEE 754-2019 §5.4.1)
  if (a.sign) {
    softFlags.v |= FLAG_NV;
    return canonicalNaN(fmt);
  }
  if (a.kind === K_INF) return abits;
  const p = fmt.fracBits + 1;
  // Scale so the root has >= p+2 bits and the exponent is even.
  let shift = Math.max(0, 2 * (p + 3) - bitLength(a.sig));
  if ((a.exp - shift) % 2 !== 0) shift++;
  const n = a.sig << BigInt(shift);
  let r = isqrt(n);
  r = r * r === n ? r << 1n : (r << 1n) | 1n;
  return roundPack(fmt, 0, r, (a.exp - shift) / 2 - 1, rm);
}

/**
 * Fused multiply-add with one rounding: (negProd ? -(a*b) : a*b) + (negC ? -c : c).
 * Spec §11.6: inf*0 raises NV even when c is a quiet NaN.
 */
export function sfFma(
  fmt: FloatFormat,
  abits: bigint,
  bbits: bigint,
  cbits: bigint,
  rm: number,
  negProd: boolean,
  negC: boolean,
): bigint {
  const a = unpack(fmt, abits);
  const b = unpack(fmt, bbits);
  const c = unpack(fmt, cbits);
  const infTimesZero = (a.kind === K_INF && b.kind === K_ZERO) || (a.kind === K_ZERO && b.kind === K_INF);
  if (infTimesZero) {
    softFlags.v |= FLAG_NV;
    return canonicalNaN(fmt);
  }
  if (isNaNKind(a.kind) || isNaNKind(b.kind) || isNaNKind(c.kind))
    return nanResult(fmt, a.kind, b.kind, c.kind);
  const psign = a.sign ^ b.sign ^ (negProd ? 1 : 0);
  const csign = c.sign ^ (negC ? 1 : 0);
  if (a.kind === K_INF || b.kind === K_INF) {
    if (c.kind === K_INF && csign !== psign) {
      softFlags.v |= FLAG_NV;
      return canonicalNaN(fmt);
    }
    return infBits(fmt, psign);
  }
  if (c.kind === K_INF) return infBits(fmt, csign);
  const prod: Unpacked =
    a.kind === K_ZERO || b.kind === K_ZERO
      ? { kind: K_ZERO, sign: psign, sig: 0n, exp: 0 }
      : { kind: K_FINITE, sign: psign, sig: a.sig * b.sig, exp: a.exp + b.exp };
  const addend: Unpacked = { kind: c.kind, sign: csign, sig: c.sig, exp: c.exp };
  return addUnpacked(fmt, prod, addend, rm);
}

/** Converts between formats (FCVT.S.D / FCVT.D.S). */
export function sfConvert(from: FloatFormat, to: FloatFormat, abits: bigint, rm: number): bigint {
  const a = unpack(from, abits);
  if (isNaNKind(a.kind)) return nanResult(to, a.kind);
  if (a.kind === K_INF) return infBits(to, a.sign);
  if (a.kind === K_ZERO) return zeroBits(to, a.sign);
  return roundPack(to, a.sign, a.sig, a.exp, rm);
}

/** Converts a signed integer value to fmt (FCVT.S.W etc.); zero converts to +0. */
export function sfFromInt(fmt: FloatFormat, v: bigint, rm: number): bigint {
  if (v === 0n) return 0n;
  return v < 0n ? roundPack(fmt, 1, -v, 0, rm) : roundPack(fmt, 0, v, 0, rm);
}

/**
 * Converts to an integer of `width` bits (32 or 64), signed or not, per spec §11.7 Table 11.4:
 * out-of-range and NaN inputs saturate and raise NV (never NX); NaN converts to the largest value.
 * Returns the integer value (not yet sign-extended to XLEN).
 */
export function sfToInt(fmt: FloatFormat, abits: bigint, rm: number, width: number, signed: boolean): bigint {
  const a = unpack(fmt, abits);
  const w = BigInt(width);
  const max = signed ? (1n << (w - 1n)) - 1n : (1n << w) - 1n;
  const min = signed ? -(1n << (w - 1n)) : 0n;
  if (isNaNKind(a.kind)) {
    softFlags.v |= FLAG_NV;
    return max;
  }
  if (a.kind === K_INF) {
    softFlags.v |= FLAG_NV;
    return a.sign ? min : max;
  }
  if (a.kind === K_ZERO) return 0n;
  if (a.exp > 64) {
    softFlags.v |= FLAG_NV;
    return a.sign ? min : max;
  }
  const mag = roundShift(a.sig, -a.exp, a.sign, rm);
  const inexact = shiftInexact;
  const v = a.sign ? -mag : mag;
  if (v > max || v < min) {
    softFlags.v |= FLAG_NV;
    return a.sign ? min : max;
  }
  if (inexact) softFlags.v |= FLAG_NX;
  return v;
}
