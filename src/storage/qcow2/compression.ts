/** Decompression of qcow2 compressed clusters: deflate (type 0) and zstd (type 1) (qcow2 spec, "compression_type"). */
import { Decompress } from "fzstd";
import { ImageFormatError } from "../../base/errors.js";
import type { DeflateCodec } from "../file-handle.js";

export const COMPRESSION_DEFLATE = 0;
export const COMPRESSION_ZSTD = 1;

/**
 * Decompress one cluster. The input is the descriptor's sector range, so it may carry trailing bytes of
 * the next compressed cluster; both decoders stop once clusterSize bytes are out (as QEMU's do).
 */
export function decompressCluster(
  type: number,
  codec: DeflateCodec,
  data: Uint8Array,
  clusterSize: number,
  where: number,
): Uint8Array {
  try {
    if (type === COMPRESSION_DEFLATE) return codec.inflateRaw(data, clusterSize);
    return zstdCluster(data, clusterSize);
  } catch (e) {
    if (e instanceof ImageFormatError) throw e;
    throw new ImageFormatError(
      `qcow2: compressed cluster at offset ${where} does not decompress (${e instanceof Error ? e.message : String(e)})`,
    );
  }
}

/**
 * QEMU writes one zstd frame per cluster, but packs compressed clusters back to back, so the sector range
 * may hold the next cluster's frames too. Like QEMU's decoder, keep the first clusterSize bytes of output
 * and ignore the rest (including errors in bytes after the cluster is complete).
 *
 * The decoder allocates the window a frame header declares (up to 2 GiB) before it decodes anything, so
 * every frame header is read here first (RFC 8878 section 3.1.1) and a window larger than the cluster
 * needs is refused; each frame's bytes are then handed over in 512-byte pieces, and decoding stops once
 * the cluster is complete, which bounds the output an RLE-block bomb can make to one piece's worth.
 */
function zstdCluster(data: Uint8Array, clusterSize: number): Uint8Array {
  const out = new Uint8Array(clusterSize);
  const maxWindow = Math.max(4 * clusterSize, 1 << 20);
  let got = 0;
  let off = 0;
  while (got < clusterSize && off < data.length) {
    const end = zstdFrameEnd(data, off, maxWindow);
    const d = new Decompress((chunk) => {
      const n = Math.min(chunk.length, clusterSize - got);
      if (n > 0) out.set(chunk.subarray(0, n), got);
      got += n;
    });
    try {
      for (let p = off; p < end && got < clusterSize; p += 512) {
        d.push(data.subarray(p, Math.min(end, p + 512)), false);
      }
    } catch (e) {
      if (got < clusterSize) throw e;
    }
    off = end;
  }
  if (got !== clusterSize) throw new Error(`zstd data decodes to ${got} bytes, expected ${clusterSize}`);
  return out;
}

function le32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/**
 * End offset of the zstd frame starting at off (clipped to the data), after checking its header: magic,
 * reserved bit, and a window (or single-segment content size) of at most maxWindow (RFC 8878 3.1.1.1).
 */
export function zstdFrameEnd(data: Uint8Array, off: number, maxWindow: number): number {
  if (off + 8 > data.length) throw new Error("zstd frame header is truncated");
  const magic = le32(data, off);
  if ((magic & 0xfffffff0) === 0x184d2a50) return Math.min(data.length, off + 8 + le32(data, off + 4));
  if (magic !== 0xfd2fb528) throw new Error("not a zstd frame");
  const fhd = data[off + 4]!;
  if (fhd & 8) throw new Error("zstd frame header has the reserved bit set");
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const checksum = (fhd >> 2) & 1;
  let p = off + 5;
  let window = 0;
  if (!single) {
    const wd = data[p++]!;
    const base = 2 ** (10 + (wd >> 3));
    window = base + (base / 8) * (wd & 7);
  }
  p += [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  let fcs = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) fcs = fcs * 256 + (data[p + i] ?? 0);
  if (fcsBytes === 2) fcs += 256;
  p += fcsBytes;
  if (single) window = fcs;
  if (window > maxWindow) throw new Error(`zstd window of ${window} bytes is larger than a cluster needs`);
  // Blocks (RFC 8878 3.1.1.2): 3-byte header, then size bytes (raw, compressed) or one byte (RLE).
  for (;;) {
    if (p + 3 > data.length) return data.length;
    const h = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16);
    p += 3;
    const type = (h >> 1) & 3;
    if (type === 3) throw new Error("zstd block type is reserved");
    p += type === 1 ? 1 : h >>> 3;
    if (h & 1) break;
  }
  return Math.min(data.length, p + 4 * checksum);
}
