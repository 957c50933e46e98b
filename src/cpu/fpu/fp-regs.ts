// Raw-bit access to the FP register file: NaN-boxing checks (spec §12.2) and number <-> bits views.

import { CANONICAL_NAN_S } from "./fp-consts.js";

const f64 = new Float64Array(1);
const i32 = new Int32Array(f64.buffer);
const f32 = new Float32Array(f64.buffer, 0, 1);
/** Index of the low/high 32-bit word of the scratch double (host byte order). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
/** Word of the scratch buffer that the Float32Array view covers. */
const W32 = 0;

/**
 * Reads the low 32 bits of f[r] as a single. Spec §12.2: a narrower value whose upper bits are not all
 * ones is not a valid NaN-boxed value and reads as the canonical NaN.
 */
export function readSBits(f: Int32Array, r: number): number {
  return f[2 * r + 1] === -1 ? f[2 * r] : CANONICAL_NAN_S;
}

/** Writes single bits to f[r], NaN-boxed. */
export function writeSBits(f: Int32Array, r: number, bits: number): void {
  f[2 * r] = bits;
  f[2 * r + 1] = -1;
}

/** True when single bits encode a NaN. */
export function isNaNS(bits: number): boolean {
  return (bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0;
}

/** True when a double's high word / low word encode a NaN. */
export function isNaND(hi: number, lo: number): boolean {
  return (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) | lo) !== 0;
}

/** Single bits -> JS number. Callers must not pass NaNs whose payload matters (the FPU canonicalises). */
export function sBitsToNumber(bits: number): number {
  i32[W32] = bits;
  return f32[0];
}

/** A float32-representable JS number -> single bits. */
export function numberToSBits(v: number): number {
  f32[0] = v;
  return i32[W32];
}

/** Double in f-register layout -> JS number. */
export function dToNumber(hi: number, lo: number): number {
  i32[LO] = lo;
  i32[HI] = hi;
  return f64[0];
}

/** Writes a non-NaN JS number to f[r] as a double. */
export function writeDNumber(f: Int32Array, r: number, v: number): void {
  f64[0] = v;
  f[2 * r] = i32[LO];
  f[2 * r + 1] = i32[HI];
}

/** Double bits of f[r] as an unsigned 64-bit BigInt (slow path only). */
export function readDBig(f: Int32Array, r: number): bigint {
  return (BigInt(f[2 * r + 1] >>> 0) << 32n) | BigInt(f[2 * r] >>> 0);
}

/** Writes 64-bit BigInt bits to f[r] (slow path only). */
export function writeDBig(f: Int32Array, r: number, bits: bigint): void {
  f[2 * r] = Number(bits & 0xffffffffn) | 0;
  f[2 * r + 1] = Number((bits >> 32n) & 0xffffffffn) | 0;
}

/** Increments (dir > 0) or decrements the magnitude of a finite nonzero double by one ulp. */
export function stepMagnitudeD(v: number, dir: number): number {
  f64[0] = v;
  const lo = i32[LO];
  if (dir > 0) {
    i32[LO] = (lo + 1) | 0;
    if (lo === -1) i32[HI] = (i32[HI] + 1) | 0;
  } else {
    i32[LO] = (lo - 1) | 0;
    if (lo === 0) i32[HI] = (i32[HI] - 1) | 0;
  }
  return f64[0];
}

/** Increments (dir > 0) or decrements the magnitude of a finite nonzero single by one ulp. */
export function stepMagnitudeS(v: number, dir: number): number {
  f32[0] = v;
  i32[W32] = (i32[W32] + (dir > 0 ? 1 : -1)) | 0;
  return f32[0];
}
