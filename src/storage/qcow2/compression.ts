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
 */
function zstdCluster(data: Uint8Array, clusterSize: number): Uint8Array {
  const out = new Uint8Array(clusterSize);
  let got = 0;
  const d = new Decompress((chunk) => {
    const n = Math.min(chunk.length, clusterSize - got);
    if (n > 0) out.set(chunk.subarray(0, n), got);
    got += n;
  });
  try {
    for (let off = 0; off < data.length && got < clusterSize; off += 512) {
      d.push(data.subarray(off, Math.min(data.length, off + 512)), false);
    }
  } catch (e) {
    if (got < clusterSize) throw e;
  }
  if (got !== clusterSize) throw new Error(`zstd data decodes to ${got} bytes, expected ${clusterSize}`);
  return out;
}
