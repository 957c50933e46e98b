/** Copying one image's guest-visible contents into a fresh image, skipping zeroes so the copy stays sparse. */
import { isZero } from "./bytes.js";
import type { ImageBackend } from "./image-backend.js";
import { Qcow2Image } from "./qcow2/image.js";

export interface ConvertOptions {
  /** Write deflate-compressed clusters (qcow2 destinations only; `convert -c`). */
  compress?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Copy src into dst (which must read as zeroes, as a newly created image does). Work goes in chunks of
 * whole destination clusters; chunks that are zero in the source, by block status or by content, are skipped.
 */
export async function convertImage(
  src: ImageBackend,
  dst: ImageBackend,
  opts: ConvertOptions = {},
): Promise<void> {
  const size = Math.min(src.size, dst.size);
  const qcow = dst instanceof Qcow2Image ? dst : null;
  const cs = qcow ? qcow.cs : 65536;
  const chunk = opts.compress ? cs : Math.max(cs, 1 << 20);
  const buf = new Uint8Array(chunk);
  for (let off = 0; off < size; off += chunk) {
    const n = Math.min(chunk, size - off);
    opts.onProgress?.(off, size);
    if (await allZeroByStatus(src, off, n)) continue;
    const b = buf.subarray(0, n);
    await src.read(off, b);
    if (isZero(b)) continue;
    if (opts.compress && qcow) {
      await qcow.writeCompressed(off, b);
    } else {
      // Within the chunk, skip zero clusters too, so partly used chunks stay sparse.
      for (let p = 0; p < n; p += cs) {
        const piece = b.subarray(p, Math.min(n, p + cs));
        if (!isZero(piece)) await dst.write(off + p, piece);
      }
    }
  }
  opts.onProgress?.(size, size);
  await dst.flush();
}

async function allZeroByStatus(src: ImageBackend, off: number, n: number): Promise<boolean> {
  let p = 0;
  while (p < n) {
    const s = await src.blockStatus(off + p, n - p);
    if (s.kind !== "zero") return false;
    p += s.length;
  }
  return true;
}
