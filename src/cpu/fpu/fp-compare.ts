// Comparisons, FMIN/FMAX and FCLASS on raw operand bits (spec §11.8, §11.9); no rounding involved.

import { FLAG_NV } from "./fp-consts.js";

/** Flags raised by the last call (NV only). */
export const compareFlags = { v: 0 };

/** Operand summary: NaN kind (0 none, 1 quiet, 2 signalling), sign bit and a non-NaN numeric value. */
export interface CmpOperand {
  nan: number;
  neg: boolean;
  value: number;
}

/**
 * FEQ (quiet: NV only for sNaN) and FLT/FLE (signalling: NV for any NaN); NaN compares false.
 * op: 2 = EQ, 1 = LT, 0 = LE (the funct3 encoding).
 */
export function compare(a: CmpOperand, b: CmpOperand, op: number): number {
  if (a.nan !== 0 || b.nan !== 0) {
    if (op !== 2 || a.nan === 2 || b.nan === 2) compareFlags.v |= FLAG_NV;
    return 0;
  }
  if (op === 2) return a.value === b.value ? 1 : 0;
  if (op === 1) return a.value < b.value ? 1 : 0;
  return a.value <= b.value ? 1 : 0;
}

/**
 * FMIN/FMAX as IEEE 754-2019 minimumNumber/maximumNumber (spec §11.9, version 2.2): a NaN operand is
 * ignored, two NaNs give the canonical NaN, any sNaN raises NV, and -0 is less than +0.
 * Returns 0 to select a, 1 to select b, 2 for the canonical NaN.
 */
export function minMax(a: CmpOperand, b: CmpOperand, isMax: boolean): number {
  if (a.nan === 2 || b.nan === 2) compareFlags.v |= FLAG_NV;
  if (a.nan !== 0) return b.nan !== 0 ? 2 : 1;
  if (b.nan !== 0) return 0;
  if (a.value === b.value) {
    // Equal values differ only for zeros of opposite sign.
    return a.neg === isMax ? 1 : 0;
  }
  return a.value < b.value !== isMax ? 0 : 1;
}

/** FCLASS result bit (spec §11.9 Table 11.5) from sign, exponent-all-zeros/ones and fraction facts. */
export function classify(
  neg: boolean,
  expZero: boolean,
  expOnes: boolean,
  fracZero: boolean,
  quietBit: boolean,
): number {
  if (expOnes) {
    if (fracZero) return neg ? 1 << 0 : 1 << 7;
    return quietBit ? 1 << 9 : 1 << 8;
  }
  if (expZero) {
    if (fracZero) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}
