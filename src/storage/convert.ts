/** Copying one image's guest-visible contents into a fresh image, skipping zeroes so the copy stays sparse. */
import { isZero } from "./bytes.js";
import type { BlockStatus, ImageBackend } from "./image-backend.js";
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
    // A long zero run (an unallocated L2 range, say) is skipped whole: the loop then costs one step per
    // run the source maps, not one per chunk of a virtual size the header may claim to be petabytes.
    const run = await chainStatus(src, off, size - off);
    if (run.kind === "zero" && run.length > chunk) {
      off += Math.floor(run.length / chunk) * chunk - chunk;
      continue;
    }
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

/**
 * Block status through the backing chain: a run that defers to the backing file takes the backing file's
 * status there (zeroes past its end), so unallocated stretches of a whole chain are skipped as zeroes.
 */
export async function chainStatus(img: ImageBackend, off: number, length: number): Promise<BlockStatus> {
  let s = await img.blockStatus(off, length);
  let b = img.backing;
  while (s.kind === "backing") {
    if (!b || off >= b.size) return { kind: "zero", length: s.length };
    const under = await b.blockStatus(off, Math.min(s.length, b.size - off));
    s = { kind: under.kind, length: Math.min(s.length, under.length) };
    b = b.backing;
  }
  return s;
}

async function allZeroByStatus(src: ImageBackend, off: number, n: number): Promise<boolean> {
  let p = 0;
  while (p < n) {
    const s = await chainStatus(src, off + p, n - p);
    if (s.kind !== "zero") return false;
    p += s.length;
  }
  return true;
}
