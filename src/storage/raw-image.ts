/**
 * The raw image format: guest offset = file offset; sparse where the host file system allows. A raw disk
 * whose format was probed is guarded against writes that would make the next probe see another format.
 */

import { UserError } from "../base/errors.js";
import type { FileHandle } from "./file-handle.js";
import type { BlockStatus, ImageBackend, ImageInfo } from "./image-backend.js";
import { printable } from "./printable.js";
import { PROBE_WINDOW, probeSignature } from "./probe.js";

/** A write refused because it would change what a probe of the raw file sees (QEMU's CVE-2008-2004 class). */
export class ProbeGuardError extends UserError {
  constructor(
    readonly path: string,
    readonly wouldProbeAs: string,
  ) {
    super(
      `${printable(path)}: write refused: the format was probed as raw, and the write would make the image probe as ` +
        `${wouldProbeAs} (give the format explicitly as raw to allow it)`,
    );
    this.name = "ProbeGuardError";
  }
}

export interface RawOpenOptions {
  /**
   * The format was probed, not given: refuse every write, write-zeroes or discard after which the probe
   * windows (probe.ts) would hold another format's signature. Otherwise a guest could write a qcow2 header
   * naming a host file as its backing file into sector 0, and the next probing open would follow it.
   */
  probed?: boolean;
  /** Told once, the first time a write is refused. */
  onWarning?: (msg: string) => void;
}

/** Zero chunk used for writeZeroes: raw files cannot portably punch holes, so zeroes are written. */
const ZERO_CHUNK = new Uint8Array(1 << 20);

export class RawImage implements ImageBackend {
  readonly format = "raw";
  readonly backing = null;
  formatProbed = false;
  /** Guarded writes (those touching a probe window) run one at a time, so two cannot combine into a signature. */
  private guardQueue: Promise<unknown> = Promise.resolve();
  private warned = false;

  private constructor(
    private readonly file: FileHandle,
    public size: number,
    readonly readOnly: boolean,
    private readonly guard: RawOpenOptions = {},
  ) {
    this.formatProbed = guard.probed === true;
  }

  get path(): string {
    return this.file.path;
  }

  static async open(file: FileHandle, readOnly: boolean, opts: RawOpenOptions = {}): Promise<RawImage> {
    return new RawImage(file, await file.size(), readOnly, opts);
  }

  /** Create a sparse raw file of the given size (truncate leaves a hole). */
  static async create(file: FileHandle, size: number): Promise<RawImage> {
    await file.truncate(size);
    return new RawImage(file, size, false);
  }

  private check(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new UserError(`request at ${offset} (+${length}) is outside the ${this.size}-byte raw image`);
    }
  }

  private writable(): void {
    if (this.readOnly) throw new UserError(`${this.path}: image is read-only`);
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    this.check(offset, buf.length);
    const n = await this.file.read(offset, buf);
    if (n < buf.length) buf.fill(0, n);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.writable();
    this.check(offset, data.length);
    if (this.touchesProbeWindow(offset, data.length)) {
      await this.guarded(offset, data.length, data, () => this.file.write(offset, data));
      return;
    }
    await this.file.write(offset, data);
  }

  /** The windows probe.ts reads: the first PROBE_WINDOW bytes and the last PROBE_WINDOW bytes. */
  private windows(): [number, number][] {
    const w: [number, number][] = [[0, Math.min(PROBE_WINDOW, this.size)]];
    if (this.size >= PROBE_WINDOW) w.push([this.size - PROBE_WINDOW, this.size]);
    return w;
  }

  private touchesProbeWindow(offset: number, length: number): boolean {
    if (!this.guard.probed || length === 0) return false;
    return this.windows().some(([s, e]) => offset < e && offset + length > s);
  }

  /**
   * Run op (which writes `data`, or zeroes when data is null, over [offset, offset+length)) only if the probe
   * windows would still say raw afterwards. The check reads the current windows and overlays the request,
   * so writes that straddle a window edge and zeroing requests are judged by their real effect.
   */
  private guarded(
    offset: number,
    length: number,
    data: Uint8Array | null,
    op: () => Promise<void>,
  ): Promise<void> {
    const run = this.guardQueue.then(async () => {
      const [headW, footW] = this.windows();
      const view = async (w: [number, number] | undefined): Promise<Uint8Array | null> => {
        if (!w) return null;
        const b = new Uint8Array(w[1] - w[0]);
        const n = await this.file.read(w[0], b);
        if (n < b.length) b.fill(0, n);
        // Overlay the part of the request that falls in this window.
        const s = Math.max(offset, w[0]);
        const e = Math.min(offset + length, w[1]);
        if (s < e) {
          if (data) b.set(data.subarray(s - offset, e - offset), s - w[0]);
          else b.fill(0, s - w[0], e - w[0]);
        }
        return b;
      };
      const head = (await view(headW)) ?? new Uint8Array(0);
      const foot = await view(footW);
      const fmt = probeSignature(head, foot);
      if (fmt !== "raw") {
        const err = new ProbeGuardError(this.path, fmt);
        if (!this.warned) {
          this.warned = true;
          this.guard.onWarning?.(err.message);
        }
        throw err;
      }
      await op();
    });
    this.guardQueue = run.catch(() => undefined);
    return run;
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.file.sync();
  }

  async discard(offset: number, length: number): Promise<void> {
    await this.writeZeroes(offset, length);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    this.writable();
    this.check(offset, length);
    if (this.touchesProbeWindow(offset, length)) {
      await this.guarded(offset, length, null, () => this.zeroRange(offset, length));
      return;
    }
    await this.zeroRange(offset, length);
  }

  private async zeroRange(offset: number, length: number): Promise<void> {
    while (length > 0) {
      const n = Math.min(length, ZERO_CHUNK.length);
      await this.file.write(offset, ZERO_CHUNK.subarray(0, n));
      offset += n;
      length -= n;
    }
  }

  async resize(newSize: number): Promise<void> {
    this.writable();
    await this.file.truncate(newSize);
    this.size = newSize;
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  async blockStatus(offset: number, length: number): Promise<BlockStatus> {
    return { kind: "data", length: Math.min(length, this.size - offset) };
  }

  async actualSize(): Promise<number> {
    return this.file.allocatedBytes();
  }

  async info(): Promise<ImageInfo> {
    return { format: "raw", virtualSize: this.size, snapshots: [] };
  }
}
