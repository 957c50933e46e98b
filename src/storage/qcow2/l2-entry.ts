/** Decoding and encoding of qcow2 L1 and L2 table entries (qcow2 spec, "Cluster mapping"). */
import { ImageFormatError } from "../../base/errors.js";
import { be32, putBe32 } from "../bytes.js";

export enum ClusterKind {
  Unallocated = 0,
  Zero = 1,
  Normal = 2,
  Compressed = 3,
}

/** A decoded L2 entry. host is the cluster offset (Normal/Zero) or byte offset (Compressed). */
export interface L2Entry {
  kind: ClusterKind;
  host: number;
  /** Bytes of compressed data (Compressed only): (additional sectors + 1) * 512 - (host % 512). */
  csize: number;
  copied: boolean;
}

const COPIED = 0x80000000;
const COMPRESSED = 0x40000000;

/**
 * Decode entry i of an L2 table. Bits 62/63 are the compressed/COPIED flags; a standard entry holds the
 * host offset in bits 9-55 and the zero flag in bit 0 (v3). A compressed entry splits bits 0-61 at
 * x = 62 - (cluster_bits - 8). Reserved bits and misaligned or out-of-file offsets are errors.
 */
export function decodeL2(
  t: Uint8Array,
  i: number,
  clusterBits: number,
  version: number,
  fileSize: number,
  out: L2Entry,
): L2Entry {
  const hi = be32(t, 8 * i);
  const lo = be32(t, 8 * i + 4);
  out.copied = (hi & COPIED) !== 0;
  out.csize = 0;
  if (hi & COMPRESSED) {
    const x = 70 - clusterBits;
    const offHi = hi & ((1 << (x - 32)) - 1);
    const sectors = (hi >>> (x - 32)) & ((1 << (clusterBits - 8)) - 1);
    out.kind = ClusterKind.Compressed;
    out.host = offHi * 0x100000000 + lo;
    out.csize = (sectors + 1) * 512 - (out.host % 512);
    if (out.copied) throw l2Error(i, "compressed entry has the COPIED flag");
    if (out.host < 512 || out.host >= fileSize)
      throw l2Error(i, `compressed data offset ${out.host} is outside the file`);
    return out;
  }
  out.host = (hi & 0x00ffffff) * 0x100000000 + (lo >>> 9) * 512;
  if (hi & 0x3f000000 || lo & 0x1fe) throw l2Error(i, "reserved bits are set");
  const zero = (lo & 1) !== 0 && version >= 3;
  if (out.host !== 0) {
    if (out.host % 2 ** clusterBits !== 0) throw l2Error(i, `host offset ${out.host} is not cluster-aligned`);
    if (out.host >= fileSize) {
      if (!zero) throw l2Error(i, `host offset ${out.host} lies past the end of the file`);
      // A zero cluster reads as zeroes wherever its preallocation points; one past the end of the file
      // preallocates nothing, so it is a plain zero cluster. (Keeping the offset would make check, repair
      // and release work with clusters up to 2^56 that the file does not have.)
      out.host = 0;
    }
  }
  out.kind = zero ? ClusterKind.Zero : out.host === 0 ? ClusterKind.Unallocated : ClusterKind.Normal;
  return out;
}

function l2Error(i: number, what: string): ImageFormatError {
  return new ImageFormatError(`qcow2: L2 entry ${i}: ${what}`);
}

/** Encode a standard entry (offset, COPIED, zero flag). */
export function encodeStandard(t: Uint8Array, i: number, host: number, copied: boolean, zero = false): void {
  putBe32(t, 8 * i, (copied ? COPIED : 0) | Math.floor(host / 0x100000000));
  putBe32(t, 8 * i + 4, (host >>> 0) | (zero ? 1 : 0));
}

/** Encode a compressed descriptor: offset in bits 0..x-1, additional 512-byte sectors in bits x..61. */
export function encodeCompressed(
  t: Uint8Array,
  i: number,
  host: number,
  size: number,
  clusterBits: number,
): void {
  const x = 70 - clusterBits;
  const sectors = Math.floor((host + size - 1) / 512) - Math.floor(host / 512);
  putBe32(t, 8 * i, COMPRESSED | (sectors << (x - 32)) | Math.floor(host / 0x100000000));
  putBe32(t, 8 * i + 4, host >>> 0);
}

/** Decode an L1 entry: bits 9-55 are the L2 offset, bit 63 COPIED; other bits are reserved. */
export function decodeL1(
  hi: number,
  lo: number,
  idx: number,
  clusterSize: number,
  fileSize: number,
): { off: number; copied: boolean } {
  const off = (hi & 0x00ffffff) * 0x100000000 + (lo >>> 9) * 512;
  if (hi & 0x7f000000 || lo & 0x1ff)
    throw new ImageFormatError(`qcow2: L1 entry ${idx}: reserved bits are set`);
  if (off % clusterSize !== 0)
    throw new ImageFormatError(`qcow2: L1 entry ${idx}: L2 offset ${off} is not cluster-aligned`);
  if (off !== 0 && off + clusterSize > fileSize) {
    throw new ImageFormatError(`qcow2: L1 entry ${idx}: L2 table at ${off} lies past the end of the file`);
  }
  return { off, copied: (hi & 0x80000000) !== 0 };
}
