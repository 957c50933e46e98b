// BigInt-free fast paths for the common F/D cases, built on JS doubles and error-free transformations.
//
// Each function returns the correctly rounded result, or NaN to mean "not handled here, use the exact
// slow path" (special operands, zero/tiny/huge results, RMM ties). The fast path only ever raises NX, which
// it ORs into `fastFlags.v`; it never raises UF/OF because it refuses results near the range limits.
// Technique: compute the round-to-nearest result r with the host FPU, recover the sign of the exact error
// (exact - r) with TwoSum / Dekker's TwoProduct (Veltkamp splitting), then step r by one ulp for the
// directed modes (IEEE 754-2019 §4.3.2). Singles are computed in double and narrowed with Math.fround;
// double rounding is innocuous for +,-,*,/,sqrt because 53 >= 2*24+2 (Figueroa, 1995).

import { FLAG_NX, RM_RDN, RM_RNE, RM_RTZ, RM_RUP } from "./fp-consts.js";
import { stepMagnitudeD, stepMagnitudeS } from "./fp-regs.js";

export const fastFlags = { v: 0 };

/** Smallest |result| handled: twice the smallest normal, so neither rounding nor a step can make it tiny. */
const MIN_D = 2 ** -1021;
/** Largest |result| handled: stepping up by one ulp can never overflow. */
const MAX_D = 2 ** 1022;
const MIN_S = 2 ** -125;
const MAX_S = 2 ** 126;
/** Bounds that keep every partial product of TwoProduct exact (no overflow, no underflow). */
const SPLIT_MAX = 2 ** 995;
const PROD_MIN = 2 ** -960;
const PROD_MAX = 2 ** 1000;
/** Veltkamp splitter for binary64: 2^27 + 1. */
const SPLITTER = 134217729;

/** The exact error a*b - p of p = fl(a*b) (Dekker's TwoProduct); requires the bounds above. */
function twoProductErr(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/**
 * Applies directed rounding to the nearest result r given err = sign of (exact - r), err !== 0.
 * Returns NaN for RMM (a tie may need the other neighbour; left to the slow path).
 */
function directD(r: number, err: number, rm: number): number {
  fastFlags.v |= FLAG_NX;
  switch (rm) {
    case RM_RNE:
      return r;
    case RM_RTZ:
      return err > 0 !== r > 0 ? stepMagnitudeD(r, -1) : r;
    case RM_RDN:
      return err < 0 ? stepMagnitudeD(r, r > 0 ? -1 : 1) : r;
    case RM_RUP:
      return err > 0 ? stepMagnitudeD(r, r > 0 ? 1 : -1) : r;
    default:
      return Number.NaN;
  }
}

function directS(r: number, err: number, rm: number): number {
  fastFlags.v |= FLAG_NX;
  switch (rm) {
    case RM_RNE:
      return r;
    case RM_RTZ:
      return err > 0 !== r > 0 ? stepMagnitudeS(r, -1) : r;
    case RM_RDN:
      return err < 0 ? stepMagnitudeS(r, r > 0 ? -1 : 1) : r;
    case RM_RUP:
      return err > 0 ? stepMagnitudeS(r, r > 0 ? 1 : -1) : r;
    default:
      return Number.NaN;
  }
}

// ---- binary64 ----

export function addD(a: number, b: number, rm: number): number {
  const r = a + b;
  const ar = Math.abs(r);
  if (!(ar >= MIN_D && ar <= MAX_D) || !(Math.abs(a) <= MAX_D && Math.abs(b) <= MAX_D)) return Number.NaN;
  // TwoSum (Knuth): a + b = r + err exactly.
  const bb = r - a;
  const err = a - (r - bb) + (b - bb);
  return err === 0 ? r : directD(r, err, rm);
}

export function mulD(a: number, b: number, rm: number): number {
  const r = a * b;
  const ar = Math.abs(r);
  if (!(ar >= PROD_MIN && ar <= PROD_MAX) || !(Math.abs(a) <= SPLIT_MAX && Math.abs(b) <= SPLIT_MAX)) {
    return Number.NaN;
  }
  const err = twoProductErr(a, b, r);
  return err === 0 ? r : directD(r, err, rm);
}

export function divD(a: number, b: number, rm: number): number {
  const q = a / b;
  const aq = Math.abs(q);
  const aa = Math.abs(a);
  if (
    !(aq >= PROD_MIN && aq <= SPLIT_MAX) ||
    !(aa >= PROD_MIN && aa <= PROD_MAX) ||
    !(Math.abs(b) <= SPLIT_MAX)
  ) {
    return Number.NaN;
  }
  // Remainder a - q*b is exactly representable for a correctly rounded q; a - p is exact by Sterbenz.
  const p = q * b;
  const rem = a - p - twoProductErr(q, b, p);
  if (rem === 0) return q;
  return directD(q, b > 0 ? rem : -rem, rm);
}

export function sqrtD(a: number, rm: number): number {
  if (!(a >= PROD_MIN && a <= PROD_MAX)) return Number.NaN;
  const r = Math.sqrt(a);
  const p = r * r;
  const rem = a - p - twoProductErr(r, r, p);
  return rem === 0 ? r : directD(r, rem, rm);
}

/** Fused (±a*b) + c with one rounding; sp/sc are the signs (+1/-1) applied to the product and addend. */
export function fmaD(a: number, b: number, c: number, rm: number): number {
  const p = a * b;
  const ap = Math.abs(p);
  if (
    !(ap >= PROD_MIN && ap <= PROD_MAX) ||
    !(Math.abs(a) <= SPLIT_MAX && Math.abs(b) <= SPLIT_MAX) ||
    !(Math.abs(c) <= MAX_D)
  ) {
    return Number.NaN;
  }
  const pe = twoProductErr(a, b, p);
  // exact = p + pe + c. TwoSum(p, c) = s + e1; TwoSum(e1, pe) = t + e2; TwoSum(s, t) = r + e3.
  const s = p + c;
  let z = s - p;
  const e1 = p - (s - z) + (c - z);
  const t = e1 + pe;
  z = t - e1;
  const e2 = e1 - (t - z) + (pe - z);
  const r = s + t;
  z = r - s;
  const e3 = s - (r - z) + (t - z);
  const ar = Math.abs(r);
  if (!(ar >= MIN_D && ar <= MAX_D)) return Number.NaN;
  // exact = r + e3 + e2. When one of the two is zero the other gives the error's sign; e2 is far below
  // half an ulp of r (checked), so it cannot move r across a rounding boundary.
  if (e2 === 0) return e3 === 0 ? r : directD(r, e3, rm);
  if (e3 === 0 && Math.abs(e2) < ar * 2 ** -60) return directD(r, e2, rm);
  return Number.NaN;
}

// ---- binary32 (operands are float32 values held in doubles) ----

/**
 * Narrows d (whose exact value is d + err, err's sign known or 0) to the correctly rounded single.
 * Valid when d = RN53(exact) and double rounding is innocuous, or d is exact.
 */
function finishS(d: number, err: number, rm: number): number {
  const s = Math.fround(d);
  const as = Math.abs(s);
  if (!(as <= MAX_S)) return Number.NaN; // NaN, inf or near overflow
  const sigma = s !== d ? d - s : err;
  if (sigma === 0) return s;
  if (!(as >= MIN_S)) return Number.NaN; // inexact and possibly tiny
  return directS(s, sigma, rm);
}

export function addS(a: number, b: number, rm: number): number {
  const d = a + b;
  if (d === 0) return Number.NaN; // the sign of an exact zero sum depends on rm
  const bb = d - a;
  const err = a - (d - bb) + (b - bb);
  return finishS(d, err, rm);
}

export function mulS(a: number, b: number, rm: number): number {
  return finishS(a * b, 0, rm); // a 24x24-bit product is exact in binary64
}

export function divS(a: number, b: number, rm: number): number {
  const d = a / b;
  if (!Number.isFinite(d) || d === 0) return Number.NaN;
  const s = Math.fround(d);
  // If d is a single, s*b is exact (48 bits) and the sign of a - s*b gives the direction.
  const err = s === d ? (b > 0 ? a - s * b : s * b - a) : 0;
  return finishS(d, err, rm);
}

export function sqrtS(a: number, rm: number): number {
  if (!(a > 0) || a === Number.POSITIVE_INFINITY) return Number.NaN;
  const d = Math.sqrt(a);
  const s = Math.fround(d);
  return finishS(d, s === d ? a - s * s : 0, rm);
}

export function fmaS(a: number, b: number, c: number, rm: number): number {
  const p = a * b; // exact
  const d = p + c;
  if (!Number.isFinite(d) || d === 0) return Number.NaN;
  const z = d - p;
  const err = p - (d - z) + (c - z);
  const s = Math.fround(d);
  if (err !== 0 && s !== d) {
    // d may sit exactly on a midpoint between singles while the exact value does not: double rounding.
    const other = stepMagnitudeS(s, Math.abs(d) > Math.abs(s) ? 1 : -1);
    if ((s + other) * 0.5 === d) return Number.NaN;
  }
  return finishS(d, err, rm);
}

/** Narrowing FCVT.S.D of a non-NaN double. */
export function narrowS(d: number, rm: number): number {
  return finishS(d, 0, rm);
}

// ---- integer conversions ----

/** Set by roundToIntegral: whether the rounding discarded a fraction. */
export let integralInexact = false;

/** Rounds a finite double to an integral value in mode rm (FCVT.int.fmt). */
export function roundToIntegral(v: number, rm: number): number {
  const t = Math.trunc(v);
  const frac = v - t; // exact: the fraction of a double is representable
  if (frac === 0) {
    integralInexact = false;
    return t;
  }
  integralInexact = true;
  const away = v < 0 ? t - 1 : t + 1; // |v| < 2^52 here, so this is exact
  const af = Math.abs(frac);
  switch (rm) {
    case RM_RTZ:
      return t;
    case RM_RDN:
      return v < 0 ? away : t;
    case RM_RUP:
      return v > 0 ? away : t;
    case RM_RNE:
      return af > 0.5 || (af === 0.5 && t % 2 !== 0) ? away : t;
    default:
      return af >= 0.5 ? away : t;
  }
}
