/**
 * A disk image file in the browser: reads come from a Blob (a picked File or a downloaded image), writes
 * stay in memory in 64 KiB pages over it, so the picked file is never changed and a page reload forgets
 * the writes. Implements the storage layer's FileHandle, so raw and qcow2 work as on Node.
 */
import type { FileHandle } from "../storage/file-handle.js";

const PAGE = 64 * 1024;

export class OverlayFile implements FileHandle {
  private pages = new Map<number, Uint8Array>();
  private length: number;

  constructor(
    readonly path: string,
    private readonly blob: Blob,
    /** Last-modified time of the source (File.lastModified), for the state file's disk identity. */
    readonly lastModified = 0,
  ) {
    this.length = blob.size;
  }

  /** One page's bytes as the file holds them now (overlay, else the blob, zero past its end). */
  private async page(index: number): Promise<Uint8Array> {
    const own = this.pages.get(index);
    if (own) return own;
    const start = index * PAGE;
    const out = new Uint8Array(PAGE);
    if (start < this.blob.size) {
      const bytes = new Uint8Array(
        await this.blob.slice(start, Math.min(start + PAGE, this.blob.size)).arrayBuffer(),
      );
      out.set(bytes);
    }
    return out;
  }

  async read(position: number, buf: Uint8Array): Promise<number> {
    const n = Math.max(0, Math.min(buf.length, this.length - position));
    let done = 0;
    while (done < n) {
      const at = position + done;
      const index = Math.floor(at / PAGE);
      const off = at - index * PAGE;
      const take = Math.min(PAGE - off, n - done);
      const own = this.pages.get(index);
      if (own) buf.set(own.subarray(off, off + take), done);
      else {
        // Straight from the blob: a large read costs one slice, not a page at a time.
        const end = Math.min(position + n, this.blob.size);
        let run = at;
        while (run < end && !this.pages.has(Math.floor(run / PAGE)))
          run = (Math.floor(run / PAGE) + 1) * PAGE;
        const stop = Math.min(run, position + n);
        if (at < this.blob.size) {
          const bytes = new Uint8Array(
            await this.blob.slice(at, Math.min(stop, this.blob.size)).arrayBuffer(),
          );
          buf.set(bytes, done);
          buf.fill(0, done + bytes.length, done + (stop - at));
        } else buf.fill(0, done, done + (stop - at));
        done += stop - at;
        continue;
      }
      done += take;
    }
    return n;
  }

  async write(position: number, data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const at = position + done;
      const index = Math.floor(at / PAGE);
      const off = at - index * PAGE;
      const take = Math.min(PAGE - off, data.length - done);
      const p = await this.page(index);
      p.set(data.subarray(done, done + take), off);
      this.pages.set(index, p);
      done += take;
    }
    this.length = Math.max(this.length, position + data.length);
  }

  async size(): Promise<number> {
    return this.length;
  }

  async truncate(length: number): Promise<void> {
    // Pages past the new end are dropped; the last partial page is cut so growing again reads zeros.
    for (const i of [...this.pages.keys()]) if (i * PAGE >= length) this.pages.delete(i);
    const last = Math.floor(length / PAGE);
    const p = this.pages.get(last);
    if (p) p.fill(0, length - last * PAGE);
    else if (length < this.length && length % PAGE !== 0 && length < this.blob.size) {
      const kept = await this.page(last);
      kept.fill(0, length - last * PAGE);
      this.pages.set(last, kept);
    }
    if (length < this.blob.size)
      for (let i = last + 1; i * PAGE < this.blob.size; i++) this.pages.set(i, new Uint8Array(PAGE));
    this.length = length;
  }

  async sync(): Promise<void> {}

  async allocatedBytes(): Promise<number> {
    return this.blob.size + this.pages.size * PAGE;
  }

  async close(): Promise<void> {}
}
