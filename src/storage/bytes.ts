/** Endian helpers for on-disk structures; 64-bit fields become JS numbers, checked to stay exact. */

/** Read a big-endian u64 as a number; throws (via makeError) if it is not exactly representable. */
export function be64(b: Uint8Array, off: number, what: string, makeError: (m: string) => Error): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hi = v.getUint32(off);
  const lo = v.getUint32(off + 4);
  if (hi > 0x1fffff) throw makeError(`${what} is too large (${v.getBigUint64(off)})`);
  return hi * 0x100000000 + lo;
}

export function le64(b: Uint8Array, off: number, what: string, makeError: (m: string) => Error): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lo = v.getUint32(off, true);
  const hi = v.getUint32(off + 4, true);
  if (hi > 0x1fffff) throw makeError(`${what} is too large (${v.getBigUint64(off, true)})`);
  return hi * 0x100000000 + lo;
}

export function be32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function be16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function le32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function le16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

export function putBe32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

export function putBe16(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 8;
  b[off + 1] = v;
}

/** Store a non-negative integer ≤ 2^53 as big-endian u64. */
export function putBe64(b: Uint8Array, off: number, v: number): void {
  putBe32(b, off, Math.floor(v / 0x100000000));
  putBe32(b, off + 4, v >>> 0);
}

/** True if every byte is zero (used to keep converted images sparse). */
export function isZero(b: Uint8Array): boolean {
  const words = b.byteOffset % 4 === 0 ? Math.floor(b.length / 4) : 0;
  if (words > 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset, words);
    for (let i = 0; i < words; i++) if (w[i] !== 0) return false;
  }
  for (let i = words * 4; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
