/** The qcow2 image: an async BlockBackend over L1/L2 mapping, refcounted allocation and copy-on-write (qcow2 spec). */
import { ImageFormatError, UserError } from "../../base/errors.js";
import { be32, isZero, putBe32, putBe64 } from "../bytes.js";
import type { FileHandle, StorageHost } from "../file-handle.js";
import type { BlockStatus, ImageBackend, ImageInfo, SnapshotInfo } from "../image-backend.js";
import { printable } from "../printable.js";
import { WorkMeter } from "../yield.js";
import { repairRefcounts } from "./check.js";
import { COMPRESSION_DEFLATE, decompressCluster } from "./compression.js";
import {
  COMPAT_LAZY_REFCOUNTS,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  l1EntriesFor,
  MAX_L1_BYTES,
  parseHeader,
  type Qcow2Header,
  serializeHeader,
  V2_HEADER_LENGTH,
} from "./header.js";
import {
  ClusterKind,
  decodeL1,
  decodeL2,
  encodeCompressed,
  encodeStandard,
  type L2Entry,
} from "./l2-entry.js";
import type { Qcow2Metadata } from "./metadata.js";
import {
  META_ACTIVE_L1,
  META_ACTIVE_L2,
  META_HEADER,
  META_INACTIVE_L1,
  META_INACTIVE_L2,
  META_NONE,
  META_REFBLOCK,
  META_REFTABLE,
  META_SNAPSHOT_TABLE,
  MetadataMap,
  metaName,
} from "./overlap.js";
import { Refcounts } from "./refcounts.js";
import {
  MAX_SNAPSHOT_TABLE_BYTES,
  parseSnapshotTable,
  type Qcow2Snapshot,
  serializeSnapshotTable,
} from "./snapshot-table.js";
import { adjustTree, updateCopiedFlags } from "./tree-walk.js";

/** L2 tables kept in memory (write-through). 64 tables of 64 KiB map 32 GiB. */
const L2_CACHE_LIMIT = 64;

export interface Qcow2OpenOptions {
  readOnly: boolean;
  /** Opens the backing file named in the header (already resolved against this image's directory). */
  openBacking?: (path: string, format: string | null, name: string) => Promise<ImageBackend>;
  /** Open even though the corrupt bit is set or refcounts need repair (for `check -r`). */
  forRepair?: boolean;
}

export class Qcow2Image implements ImageBackend, Qcow2Metadata {
  readonly format = "qcow2";
  formatProbed = false;
  readonly cs: number;
  readonly clusterBits: number;
  /** Entries per L2 table (spec: cluster_size / 8). */
  readonly l2Entries: number;
  /** @internal Active L1 table: L2 offsets and COPIED flags. */
  l1Off: Float64Array;
  /** @internal */
  l1Copied: Uint8Array;
  /** @internal */
  refc!: Refcounts;
  /** @internal */
  snapshots: Qcow2Snapshot[] = [];
  /** @internal Where each kind of metadata lives, for overlap checks before writes (overlap.ts). */
  readonly meta: MetadataMap;
  /** @internal Work done by loops a file controls (scans, walks); they yield through it. */
  readonly meter = new WorkMeter();
  private readonly l2Cache = new Map<number, Uint8Array>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ent: L2Entry = { kind: ClusterKind.Unallocated, host: 0, csize: 0, copied: false };
  private lastCompressed: { host: number; data: Uint8Array } | null = null;
  /** Byte offset where the next compressed cluster may be packed, or 0 (like QEMU's free_byte_offset). */
  private compressCursor = 0;
  private compressAllocations = -1;
  private closed = false;

  private constructor(
    private readonly host: StorageHost,
    /** @internal */ readonly file: FileHandle,
    /** @internal */ readonly hdr: Qcow2Header,
    readonly readOnly: boolean,
    public backing: ImageBackend | null,
  ) {
    this.clusterBits = hdr.clusterBits;
    this.cs = 2 ** hdr.clusterBits;
    this.l2Entries = this.cs / 8;
    this.l1Off = new Float64Array(hdr.l1Size);
    this.l1Copied = new Uint8Array(hdr.l1Size);
    this.meta = new MetadataMap(this.cs);
  }

  get path(): string {
    return this.file.path;
  }

  get size(): number {
    return this.hdr.size;
  }

  static async open(host: StorageHost, file: FileHandle, opts: Qcow2OpenOptions): Promise<Qcow2Image> {
    const fileSize = await file.size();
    const head = new Uint8Array(Math.min(fileSize, 2 ** 21));
    await file.read(0, head);
    // cluster_bits (offset 20) is read only when the file holds it; parseHeader reports a short file and a
    // bad cluster_bits itself, so the slice never cuts the header below its fixed 72 bytes.
    const bits = head.length >= 24 ? Math.min(be32(head, 20), 21) : 0;
    const hdr = parseHeader(
      head.subarray(0, Math.min(head.length, Math.max(V2_HEADER_LENGTH, 2 ** bits))),
      fileSize,
    );
    // Spec "incompatible_features" bit 1: a corrupt image must not be written until repaired; only the
    // repairing check may open it for writing, and that check clears the bit once the image is consistent.
    if (!opts.readOnly && !opts.forRepair && hdr.incompatibleFeatures & INCOMPAT_CORRUPT) {
      throw new ImageFormatError(
        `qcow2: ${printable(file.path)} is marked corrupt; open it read-only or repair it with 'tvisor image check -r all'`,
      );
    }
    const img = new Qcow2Image(host, file, hdr, opts.readOnly, null);
    // The image's own tables are validated before any backing file is touched (cheap checks first, and a
    // broken image never makes us open another host file).
    await img.load(fileSize, opts.forRepair === true);
    if (hdr.backingFile && opts.openBacking) {
      img.backing = await opts.openBacking(
        host.resolveRelative(file.path, hdr.backingFile),
        hdr.backingFormat,
        hdr.backingFile,
      );
    }
    return img;
  }

  private async load(fileSize: number, forRepair: boolean): Promise<void> {
    const h = this.hdr;
    const cs = this.cs;
    const f = this.file;
    const bad = (m: string) => new ImageFormatError(`qcow2: ${m}`);
    const rt = new Uint8Array(h.refcountTableClusters * cs);
    await f.read(h.refcountTableOffset, rt);
    this.refc = new Refcounts(
      f,
      h.clusterBits,
      h.refcountOrder,
      rt,
      h.refcountTableOffset,
      fileSize,
      {
        tableMoved: async (offset, clusters) => {
          const b = new Uint8Array(12);
          putBe64(b, 0, offset);
          putBe32(b, 8, clusters);
          await f.write(48, b);
          this.meta.remove(META_REFTABLE, h.refcountTableOffset, h.refcountTableClusters * cs);
          this.meta.add(META_REFTABLE, offset, clusters * cs);
          h.refcountTableOffset = offset;
          h.refcountTableClusters = clusters;
        },
        checkOverlap: (c, n) => this.checkOverlap(c, n),
        checkWrite: (own, off, len) => this.checkWrite(own, off, len),
        blockPlaced: (off) => this.meta.add(META_REFBLOCK, off, cs),
      },
      this.meter,
    );
    if (h.nbSnapshots > 0) {
      const len = Math.min(fileSize - h.snapshotsOffset, MAX_SNAPSHOT_TABLE_BYTES);
      const buf = new Uint8Array(len);
      await f.read(h.snapshotsOffset, buf);
      this.snapshots = parseSnapshotTable(buf, h.nbSnapshots, cs, fileSize, h.version).snapshots;
      // Cheap bound before any snapshot L1 is decoded: every snapshot has its own L1 copy (QEMU's
      // qcow2_snapshot_create allocates one each), so together they fit in the file. Tables that share
      // or overlap each other would make every walk over the snapshots repeat the same work (a small file
      // claiming 65,536 snapshots of a 32 MiB L1 table); such an image is refused.
      let l1Bytes = 0;
      for (const s of this.snapshots) l1Bytes += s.l1Size * 8;
      if (l1Bytes > fileSize) {
        throw bad(
          `the snapshots' L1 tables (${l1Bytes} bytes in all) cannot fit in the ${fileSize}-byte file; they overlap`,
        );
      }
    }
    // Active L1 (spec "Cluster mapping"): every entry is validated now, before any L2 is read.
    const l1 = new Uint8Array(h.l1Size * 8);
    if (h.l1Size > 0) await f.read(h.l1TableOffset, l1);
    for (let i = 0; i < h.l1Size; i++) {
      const e = decodeL1(be32(l1, 8 * i), be32(l1, 8 * i + 4), i, cs, fileSize);
      this.l1Off[i] = e.off;
      this.l1Copied[i] = e.copied ? 1 : 0;
      const y = this.meter.step();
      if (y) await y;
    }
    // Overlap checks guard writes only, so a read-only open skips mapping the metadata.
    if (!this.readOnly) await this.rebuildMeta();
    // The header cluster must be in use, or allocation could hand it out (a hostile refcount table).
    if ((await this.refc.get(0)) === 0) throw bad("refcount of the header cluster is 0");
    if (!this.readOnly) {
      // Opened for `check -r`, the check itself repairs and reports, then clears the bit (as QEMU skips
      // its open-time repair under BDRV_O_CHECK).
      if (h.incompatibleFeatures & INCOMPAT_DIRTY && !forRepair) {
        // Dirty bit (spec "incompatible_features" bit 0): refcounts may be stale; rebuild before writing.
        await repairRefcounts(this);
        await this.setIncompatBit(INCOMPAT_DIRTY, false);
      }
      if (h.version === 3 && h.autoclearFeatures !== 0) {
        // Spec: a writer that does not maintain an autoclear feature must clear its bit.
        h.autoclearFeatures = 0;
        await f.write(88, new Uint8Array(8));
      }
    }
  }

  /**
   * @internal Recompute where every metadata structure lives: header, active L1 and L2 tables, refcount
   * table and blocks, snapshot table, snapshots' L1 and L2 tables. The work is bounded by the file size
   * (the snapshot L1 tables were checked to fit in the file at open).
   */
  async rebuildMeta(): Promise<void> {
    const h = this.hdr;
    const cs = this.cs;
    const m = this.meta;
    m.clear();
    m.add(META_HEADER, 0, cs);
    m.add(META_ACTIVE_L1, h.l1TableOffset, h.l1Size * 8);
    for (const o of this.l1Off) if (o) m.add(META_ACTIVE_L2, o, cs);
    m.add(META_REFTABLE, this.refc.tableOffset, this.refc.tableClusters * cs);
    for (const b of this.refc.blockOffsets()) m.add(META_REFBLOCK, b, cs);
    if (this.snapshots.length > 0) {
      m.add(META_SNAPSHOT_TABLE, h.snapshotsOffset, serializeSnapshotTable(this.snapshots).length);
    }
    for (const s of this.snapshots) {
      m.add(META_INACTIVE_L1, s.l1TableOffset, s.l1Size * 8);
      for (const e of await this.readSnapshotL1(s)) if (e) m.add(META_INACTIVE_L2, e, cs);
    }
  }

  /** @internal L2 offsets of a snapshot's L1 table, validated like the active one. */
  async readSnapshotL1(s: Qcow2Snapshot): Promise<Float64Array> {
    const raw = new Uint8Array(s.l1Size * 8);
    await this.file.read(s.l1TableOffset, raw);
    const out = new Float64Array(s.l1Size);
    for (let i = 0; i < s.l1Size; i++) {
      out[i] = decodeL1(be32(raw, 8 * i), be32(raw, 8 * i + 4), i, this.cs, this.refc.fileEnd).off;
      const y = this.meter.step();
      if (y) await y;
    }
    return out;
  }

  /** @internal QEMU's overlap check: refcounts said "free", but the cluster is metadata. Mark corrupt and stop. */
  async checkOverlap(cluster: number, count: number): Promise<void> {
    const hit = this.meta.overlaps(META_NONE, cluster * this.cs, count * this.cs);
    if (hit !== 0) {
      await this.markCorrupt(
        `cluster ${cluster} holds ${metaName(hit)} but its refcount is 0 (refcounts are wrong)`,
      );
    }
  }

  /**
   * @internal Before any write into the file: a write of metadata kind `own` (META_NONE for guest data)
   * must not land on any other metadata. If it would, the image's tables contradict each other: mark it
   * corrupt and refuse, as QEMU does when its overlap check fires.
   */
  async checkWrite(own: number, offset: number, length: number): Promise<void> {
    const hit = this.meta.overlaps(own, offset, length);
    if (hit !== 0) {
      const what = own === META_NONE ? "guest data" : metaName(own);
      await this.markCorrupt(`a write of ${what} at offset ${offset} would overwrite ${metaName(hit)}`);
    }
  }

  /** @internal Set the corrupt bit (v3) and throw; later opens for writing refuse the image. */
  async markCorrupt(why: string): Promise<never> {
    if (!this.readOnly && this.hdr.version === 3) {
      try {
        await this.setIncompatBit(INCOMPAT_CORRUPT, true);
      } catch {
        // The error below is what matters.
      }
    }
    throw new ImageFormatError(`qcow2: ${printable(this.path)}: ${why}; image marked corrupt`);
  }

  /** @internal */
  async setIncompatBit(bit: number, on: boolean): Promise<void> {
    if (this.hdr.version < 3) return;
    this.hdr.incompatibleFeatures = on
      ? this.hdr.incompatibleFeatures | bit
      : this.hdr.incompatibleFeatures & ~bit;
    const b = new Uint8Array(4);
    putBe32(b, 0, this.hdr.incompatibleFeatures);
    await this.file.write(76, b);
  }

  /** @internal Serialize every request: metadata updates must not interleave. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private checkRange(offset: number, length: number): void {
    if (this.closed) throw new UserError(`${this.path}: image is closed`);
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw new UserError(`request at ${offset} (+${length}) is outside the ${this.size}-byte image`);
    }
  }

  private checkWritable(): void {
    if (this.readOnly) throw new UserError(`${this.path}: image is read-only`);
  }

  /** @internal Read an L2 table through the cache; null when the L1 entry is unallocated. */
  async getL2(l1idx: number): Promise<Uint8Array | null> {
    const off = this.l1Off[l1idx] ?? 0;
    if (off === 0) return null;
    return this.readL2(off);
  }

  /** @internal */
  async readL2(off: number): Promise<Uint8Array> {
    let t = this.l2Cache.get(off);
    if (t) {
      this.l2Cache.delete(off);
      this.l2Cache.set(off, t);
      return t;
    }
    t = new Uint8Array(this.cs);
    const n = await this.file.read(off, t);
    if (n !== this.cs) throw new ImageFormatError(`qcow2: L2 table at ${off} is truncated`);
    if (this.l2Cache.size >= L2_CACHE_LIMIT) this.l2Cache.delete(this.l2Cache.keys().next().value as number);
    this.l2Cache.set(off, t);
    return t;
  }

  /** @internal Forget cached L2 tables (after snapshot switches rewrite them on disk). */
  dropL2Cache(): void {
    this.l2Cache.clear();
  }

  /** @internal Write one L1 entry of the active table. */
  async setL1(idx: number, off: number, copied: boolean): Promise<void> {
    this.l1Off[idx] = off;
    this.l1Copied[idx] = copied ? 1 : 0;
    const b = new Uint8Array(8);
    putBe32(b, 0, (copied ? 0x80000000 : 0) | Math.floor(off / 0x100000000));
    putBe32(b, 4, off >>> 0);
    await this.checkWrite(META_ACTIVE_L1, this.hdr.l1TableOffset + idx * 8, 8);
    await this.file.write(this.hdr.l1TableOffset + idx * 8, b);
  }

  /** @internal Serialize an L1 table for writing. */
  static encodeL1(offs: Float64Array, copied: Uint8Array): Uint8Array {
    const b = new Uint8Array(offs.length * 8);
    for (let i = 0; i < offs.length; i++) {
      putBe32(b, 8 * i, (copied[i] ? 0x80000000 : 0) | Math.floor(offs[i]! / 0x100000000));
      putBe32(b, 8 * i + 4, offs[i]! >>> 0);
    }
    return b;
  }

  /** Decode entry i into the shared scratch entry (valid until the next call). */
  private decodeAt(t: Uint8Array, i: number): L2Entry {
    return decodeL2(t, i, this.clusterBits, this.hdr.version, this.refc.fileEnd, this.ent);
  }

  /**
   * Map the run at guest offset g (at most maxLen bytes) to one kind of storage. Normal runs extend over
   * clusters whose host offsets are contiguous, so sequential reads become one host read.
   */
  private async map(
    g: number,
    maxLen: number,
  ): Promise<{ kind: ClusterKind; host: number; csize: number; length: number }> {
    const cs = this.cs;
    const gc = Math.floor(g / cs);
    const l1idx = Math.floor(gc / this.l2Entries);
    let l2idx = gc % this.l2Entries;
    const inCl = g % cs;
    let length = Math.min(maxLen, cs - inCl);
    const t = await this.getL2(l1idx);
    if (!t) {
      // Whole L2 range is unallocated.
      const rangeEnd = (l1idx + 1) * this.l2Entries * cs;
      return { kind: ClusterKind.Unallocated, host: 0, csize: 0, length: Math.min(maxLen, rangeEnd - g) };
    }
    const e = this.decodeAt(t, l2idx);
    const kind = e.kind;
    const host = e.host;
    const csize = e.csize;
    if (kind === ClusterKind.Compressed) return { kind, host, csize, length };
    let nextHost = host + cs;
    while (length < maxLen && ++l2idx < this.l2Entries) {
      const n = this.decodeAt(t, l2idx);
      if (n.kind !== kind) break;
      if (kind === ClusterKind.Normal) {
        if (n.host !== nextHost) break;
        nextHost += cs;
      }
      length = Math.min(maxLen, length + cs);
    }
    return { kind, host: kind === ClusterKind.Normal ? host + inCl : host, csize, length };
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    this.checkRange(offset, buf.length);
    await this.exclusive(() => this.readLocked(offset, buf));
  }

  private async readLocked(offset: number, buf: Uint8Array): Promise<void> {
    let pos = 0;
    while (pos < buf.length) {
      const g = offset + pos;
      const m = await this.map(g, buf.length - pos);
      const sub = buf.subarray(pos, pos + m.length);
      switch (m.kind) {
        case ClusterKind.Normal: {
          const n = await this.file.read(m.host, sub);
          if (n < sub.length) sub.fill(0, n);
          break;
        }
        case ClusterKind.Zero:
          sub.fill(0);
          break;
        case ClusterKind.Unallocated:
          await this.readBacking(g, sub);
          break;
        case ClusterKind.Compressed: {
          const data = await this.readCompressed(m.host, m.csize);
          const inCl = g % this.cs;
          sub.set(data.subarray(inCl, inCl + sub.length));
          break;
        }
      }
      pos += m.length;
    }
  }

  /** Unallocated clusters read from the backing file, and as zeroes past its end (spec "Cluster mapping"). */
  private async readBacking(g: number, sub: Uint8Array): Promise<void> {
    const b = this.backing;
    if (!b || g >= b.size) {
      sub.fill(0);
      return;
    }
    const n = Math.min(sub.length, b.size - g);
    await b.read(g, sub.subarray(0, n));
    if (n < sub.length) sub.fill(0, n);
  }

  private async readCompressed(host: number, csize: number): Promise<Uint8Array> {
    if (this.lastCompressed?.host === host) return this.lastCompressed.data;
    const raw = new Uint8Array(csize);
    await this.file.read(host, raw);
    const data = decompressCluster(this.hdr.compressionType, this.host.deflate, raw, this.cs, host);
    this.lastCompressed = { host, data };
    return data;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.checkWritable();
    this.checkRange(offset, data.length);
    await this.exclusive(() => this.writeLocked(offset, data));
  }

  private async writeLocked(offset: number, data: Uint8Array): Promise<void> {
    const cs = this.cs;
    let pos = 0;
    while (pos < data.length) {
      const g = offset + pos;
      if (g % cs === 0 && data.length - pos >= 2 * cs) {
        const done = await this.writeClusterRun(g, data.subarray(pos));
        if (done > 0) {
          pos += done;
          continue;
        }
      }
      const n = Math.min(data.length - pos, cs - (g % cs));
      await this.writeInCluster(g, data.subarray(pos, pos + n));
      pos += n;
    }
  }

  /**
   * Where the VM-state area starts: the first guest offset an L1 entry maps past the virtual disk (QEMU's
   * qcow2_vm_state_offset: l1_vm_state_index << (cluster_bits + l2_bits)). `savevm` writes the machine
   * state there in the active L1 view; the snapshot's copy of the L1 table then keeps it, and the
   * snapshot table entry records its length as vm_state_size (qcow2 spec, "Snapshots").
   */
  get vmStateOffset(): number {
    const span = this.cs * this.l2Entries;
    return Math.ceil(this.size / span) * span;
  }

  private checkVmStateRange(offset: number, length: number): void {
    if (this.closed) throw new UserError(`${this.path}: image is closed`);
    const end = offset + length;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(end) || offset < 0 || length < 0)
      throw new UserError(`VM-state request at ${offset} (+${length}) is invalid`);
    if (Math.ceil((this.vmStateOffset + end) / (this.cs * this.l2Entries)) * 8 > MAX_L1_BYTES)
      throw new UserError("the machine state does not fit in the image's L1 table (32 MiB)");
  }

  /**
   * Write `data` at `offset` bytes into the VM-state area of the active L1 view, growing the L1 table when
   * the area reaches past it. Only whole clusters are written past the last one (the caller pads), so no
   * cluster here is ever read back for a partial write.
   */
  async writeVmState(offset: number, data: Uint8Array): Promise<void> {
    this.checkWritable();
    this.checkVmStateRange(offset, data.length);
    const g = this.vmStateOffset + offset;
    await this.exclusive(async () => {
      const need = Math.ceil((g + data.length) / (this.cs * this.l2Entries));
      if (need > this.hdr.l1Size) await this.growL1(need);
      await this.writeLocked(g, data);
    });
  }

  /** Read `buf.length` bytes at `offset` into the VM-state area of the active L1 view (unmapped reads as zeroes). */
  async readVmState(offset: number, buf: Uint8Array): Promise<void> {
    this.checkVmStateRange(offset, buf.length);
    const g = this.vmStateOffset + offset;
    await this.exclusive(() => this.readLocked(g, buf));
  }

  /**
   * Unlink the VM-state area from the active L1 table and drop the references it held, as QEMU does right
   * after a snapshot took it ("the VM state isn't needed any more in the active L1 table", qcow2_snapshot_create):
   * the snapshot keeps its copy, and the next savevm does not copy-on-write stale state. The L1 entries are
   * cleared on disk first, so a crash in between leaks clusters and loses nothing.
   */
  async dropActiveVmState(): Promise<void> {
    this.checkWritable();
    await this.exclusive(async () => {
      const first = this.vmStateOffset / (this.cs * this.l2Entries);
      if (first >= this.l1Off.length) return;
      const tail = this.l1Off.slice(first);
      if (tail.every((o) => o === 0)) return;
      this.l1Off.fill(0, first);
      this.l1Copied.fill(0, first);
      await this.checkWrite(META_ACTIVE_L1, this.hdr.l1TableOffset, this.l1Off.length * 8);
      await this.file.write(this.hdr.l1TableOffset, Qcow2Image.encodeL1(this.l1Off, this.l1Copied));
      this.dropL2Cache();
      await adjustTree(this, tail, -1);
      await updateCopiedFlags(this);
      await this.rebuildMeta();
      await this.file.sync();
    });
  }

  /**
   * Write whole guest clusters from g (cluster-aligned) with one data write and one L2 write: either a run
   * already allocated in place (COPIED, host-contiguous), or a run that all needs new clusters, which are
   * allocated together (one refcount update, contiguous host clusters). The order stays the spec's:
   * refcounts, then data, then the L2 entries, then the old clusters' refcounts. Returns the bytes
   * written, 0 when the run is shorter than two clusters (the caller writes one cluster instead).
   */
  private async writeClusterRun(g: number, rest: Uint8Array): Promise<number> {
    const cs = this.cs;
    const gc = g / cs;
    const l1idx = Math.floor(gc / this.l2Entries);
    const l2idx = gc % this.l2Entries;
    const max = Math.min(Math.floor(rest.length / cs), this.l2Entries - l2idx);
    if (max < 2) return 0;
    const { t, off } = await this.l2ForWrite(l1idx);
    const first = this.decodeAt(t, l2idx);
    if (first.kind === ClusterKind.Normal && first.copied) {
      // In place (refcount exactly 1, spec: COPIED) while the host clusters stay contiguous.
      const host = first.host;
      let n = 0;
      for (; n < max; n++) {
        const e = this.decodeAt(t, l2idx + n);
        if (e.kind !== ClusterKind.Normal || !e.copied || e.host !== host + n * cs) break;
      }
      await this.checkWrite(META_NONE, host, n * cs);
      await this.file.write(host, rest.subarray(0, n * cs));
      return n * cs;
    }
    const old: { kind: ClusterKind; host: number; csize: number }[] = [];
    for (let n = 0; n < max; n++) {
      const e = this.decodeAt(t, l2idx + n);
      if (e.kind === ClusterKind.Normal && e.copied) break;
      old.push({ kind: e.kind, host: e.host, csize: e.csize });
    }
    const n = old.length;
    if (n < 2) return 0;
    // The data write covers every new cluster, so the file need not be grown first (Refcounts.allocate).
    const host = await this.refc.allocate(n, false);
    await this.checkWrite(META_NONE, host, n * cs);
    await this.file.write(host, rest.subarray(0, n * cs));
    for (let i = 0; i < n; i++) encodeStandard(t, l2idx + i, host + i * cs, true);
    await this.checkWrite(META_ACTIVE_L2, off + 8 * l2idx, 8 * n);
    await this.file.write(off + 8 * l2idx, t.subarray(8 * l2idx, 8 * (l2idx + n)));
    for (const o of old) await this.releaseOld(o.kind, o.host, o.csize);
    return n * cs;
  }

  /**
   * Get the active L2 table for l1idx ready for writing: allocate it, or copy it if a snapshot shares it
   * (COPIED clear). Order per the spec's consistency rules: the new table is written before the L1 entry
   * points at it, and the old table's refcount drops last.
   * @internal
   */
  async l2ForWrite(l1idx: number): Promise<{ t: Uint8Array; off: number }> {
    const old = this.l1Off[l1idx]!;
    if (old !== 0 && this.l1Copied[l1idx]) return { t: await this.readL2(old), off: old };
    const before = this.refc.fileEnd;
    const off = await this.refc.allocate(1);
    this.meta.add(META_ACTIVE_L2, off, this.cs);
    let t: Uint8Array;
    if (old === 0) {
      t = new Uint8Array(this.cs);
      if (off < before) await this.file.write(off, t);
    } else {
      t = (await this.readL2(old)).slice();
      await this.file.write(off, t);
    }
    if (this.l2Cache.size >= L2_CACHE_LIMIT) this.l2Cache.delete(this.l2Cache.keys().next().value as number);
    this.l2Cache.set(off, t);
    await this.setL1(l1idx, off, true);
    if (old !== 0) {
      this.meta.remove(META_ACTIVE_L2, old, this.cs);
      await this.refc.adjust(old, this.cs, -1);
    }
    return { t, off };
  }

  /** @internal Write one L2 entry (already encoded in t) to disk. */
  async flushL2Entry(off: number, t: Uint8Array, i: number): Promise<void> {
    await this.checkWrite(META_ACTIVE_L2, off + 8 * i, 8);
    await this.file.write(off + 8 * i, t.subarray(8 * i, 8 * i + 8));
  }

  /** Release what an old L2 entry pointed to, after the entry no longer points there. */
  private async releaseOld(kind: ClusterKind, host: number, csize: number): Promise<void> {
    if (kind === ClusterKind.Compressed) {
      await this.refc.adjust(host, csize, -1);
      if (this.lastCompressed?.host === host) this.lastCompressed = null;
    } else if (host !== 0 && (kind === ClusterKind.Normal || kind === ClusterKind.Zero)) {
      await this.refc.adjust(host, this.cs, -1);
    }
  }

  private async writeInCluster(g: number, data: Uint8Array): Promise<void> {
    const cs = this.cs;
    const gc = Math.floor(g / cs);
    const l1idx = Math.floor(gc / this.l2Entries);
    const l2idx = gc % this.l2Entries;
    const inCl = g % cs;
    const { t, off } = await this.l2ForWrite(l1idx);
    const e = this.decodeAt(t, l2idx);
    const kind = e.kind;
    const oldHost = e.host;
    const csize = e.csize;
    if (kind === ClusterKind.Normal && e.copied) {
      // In place: refcount is exactly 1 (spec: COPIED).
      await this.checkWrite(META_NONE, oldHost + inCl, data.length);
      await this.file.write(oldHost + inCl, data);
      return;
    }
    const before = this.refc.fileEnd;
    // Every branch below writes at least one byte at or after `host` and none past the cluster, so the file
    // covers the cluster's offset before the L2 entry points at it (an entry past the end is invalid).
    const host = await this.refc.allocate(1, false);
    await this.checkWrite(META_NONE, host, cs);
    if (inCl === 0 && data.length === cs) {
      await this.file.write(host, data);
    } else {
      const oldIsZero =
        kind === ClusterKind.Zero ||
        (kind === ClusterKind.Unallocated && (!this.backing || gc * cs >= this.backing.size));
      if (oldIsZero && host >= before) {
        // The new cluster lies in the hole we just added, so the rest of it already reads as zeroes.
        await this.file.write(host + inCl, data);
      } else {
        const buf = new Uint8Array(cs);
        if (!oldIsZero) await this.readLocked(gc * cs, buf.subarray(0, Math.min(cs, this.size - gc * cs)));
        buf.set(data, inCl);
        await this.file.write(host, buf);
      }
    }
    // Data is in place; now the L2 entry, then the old cluster's refcount (spec ordering, as QEMU does).
    encodeStandard(t, l2idx, host, true);
    await this.flushL2Entry(off, t, l2idx);
    await this.releaseOld(kind, oldHost, csize);
  }

  /**
   * Write one whole guest cluster compressed with deflate (for `convert -c`). Compressed data is packed
   * into partly used host clusters; each host cluster's refcount counts the compressed clusters in it.
   */
  async writeCompressed(offset: number, data: Uint8Array): Promise<void> {
    this.checkWritable();
    this.checkRange(offset, data.length);
    if (offset % this.cs !== 0 || (data.length !== this.cs && offset + data.length !== this.size)) {
      throw new UserError("compressed writes must cover whole clusters");
    }
    if (this.hdr.compressionType !== COMPRESSION_DEFLATE) {
      throw new UserError("writing zstd-compressed clusters is not supported; use compression_type=zlib");
    }
    const full =
      data.length === this.cs
        ? data
        : (() => {
            const b = new Uint8Array(this.cs);
            b.set(data);
            return b;
          })();
    const z = this.host.deflate.deflateRaw(full, this.cs - 512);
    if (!z) {
      await this.write(offset, data);
      return;
    }
    await this.exclusive(async () => {
      const gc = offset / this.cs;
      const l1idx = Math.floor(gc / this.l2Entries);
      const l2idx = gc % this.l2Entries;
      const { t, off } = await this.l2ForWrite(l1idx);
      const e = this.decodeAt(t, l2idx);
      const old = { kind: e.kind, host: e.host, csize: e.csize };
      let at = this.compressCursor;
      const clusterEnd = Math.floor(at / this.cs) * this.cs + this.cs;
      // Reuse the partly filled cluster only if nothing was allocated since (it cannot have been freed
      // and handed out again) and it is still in use.
      const reusable =
        at % this.cs !== 0 &&
        at + z.length <= clusterEnd &&
        this.refc.allocations === this.compressAllocations &&
        (await this.refc.get(Math.floor(at / this.cs))) > 0;
      if (reusable) await this.refc.adjust(at, 1, 1);
      else at = await this.refc.allocate(1);
      await this.checkWrite(META_NONE, at, z.length);
      await this.file.write(at, z);
      this.compressCursor = at + z.length;
      this.compressAllocations = this.refc.allocations;
      encodeCompressed(t, l2idx, at, z.length, this.clusterBits);
      await this.flushL2Entry(off, t, l2idx);
      await this.releaseOld(old.kind, old.host, old.csize);
    });
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    this.checkWritable();
    this.checkRange(offset, length);
    await this.exclusive(async () => {
      const cs = this.cs;
      let g = offset;
      const end = offset + length;
      const span = this.l2Entries * cs;
      while (g < end) {
        // A whole unallocated L2 range with nothing underneath already reads as zeroes: skip it in one
        // step (a guest discarding the whole disk, or shrinking a huge sparse image, stays cheap).
        const l1idx = Math.floor(g / span);
        const rangeEnd = Math.min(end, (l1idx + 1) * span);
        const y = this.meter.step();
        if (y) await y;
        if ((this.l1Off[l1idx] ?? 0) === 0 && (!this.backing || g >= this.backing.size)) {
          g = rangeEnd;
          continue;
        }
        const n = Math.min(end - g, cs - (g % cs));
        // A whole cluster, or the disk's partial last cluster from its start, can be zeroed by its entry;
        // any other piece (an unaligned start, even one reaching the disk's end) keeps its other bytes.
        if (g % cs === 0 && (n === cs || g + n === this.size)) await this.zeroCluster(g);
        else if (!(await this.readsAsZero(g, n))) await this.writeInCluster(g, new Uint8Array(n));
        g += n;
      }
    });
  }

  async discard(offset: number, length: number): Promise<void> {
    await this.writeZeroes(offset, length);
  }

  private async readsAsZero(g: number, n: number): Promise<boolean> {
    const m = await this.map(g, n);
    if (m.kind === ClusterKind.Zero) return true;
    if (m.kind === ClusterKind.Unallocated) return !this.backing || g >= this.backing.size;
    const b = new Uint8Array(n);
    await this.readLocked(g, b);
    return isZero(b);
  }

  /**
   * Make a whole guest cluster read as zeroes: the zero flag (v3), unallocated (no backing file), or real
   * zeroes (v2 with a backing file, which cannot express zero clusters). The entry changes before the
   * old cluster is released.
   */
  private async zeroCluster(g: number): Promise<void> {
    const gc = g / this.cs;
    const l1idx = Math.floor(gc / this.l2Entries);
    const l2idx = gc % this.l2Entries;
    const cur = await this.getL2(l1idx);
    const e = cur ? this.decodeAt(cur, l2idx) : null;
    const kind = e?.kind ?? ClusterKind.Unallocated;
    const hasBacking = this.backing !== null && g < this.backing.size;
    if (kind === ClusterKind.Unallocated && !hasBacking) return;
    if (kind === ClusterKind.Zero && e?.host === 0) return;
    if (this.hdr.version < 3 && hasBacking) {
      await this.writeInCluster(g, new Uint8Array(Math.min(this.cs, this.size - g)));
      return;
    }
    const { t, off } = await this.l2ForWrite(l1idx);
    const o = this.decodeAt(t, l2idx);
    const old = { kind: o.kind, host: o.host, csize: o.csize };
    encodeStandard(t, l2idx, 0, false, this.hdr.version >= 3);
    await this.flushL2Entry(off, t, l2idx);
    await this.releaseOld(old.kind, old.host, old.csize);
  }

  async flush(): Promise<void> {
    if (this.readOnly) return;
    await this.exclusive(async () => {
      // Leave the file whole clusters long at every flush, not only at close, so a flushed image keeps
      // its size and mtime until the guest writes again (a state file records them as the disk's identity).
      if ((await this.file.size()) < this.refc.fileEnd) await this.file.truncate(this.refc.fileEnd);
      await this.file.sync();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.exclusive(async () => {
      if (!this.readOnly) {
        // Data clusters are allocated without growing the file (Refcounts.allocate); leave it whole clusters
        // long, as QEMU does, so nothing past the last written byte depends on reads past the end.
        if ((await this.file.size()) < this.refc.fileEnd) await this.file.truncate(this.refc.fileEnd);
        await this.file.sync();
      }
      this.closed = true;
      await this.file.close();
    });
    await this.backing?.close();
  }

  async blockStatus(offset: number, length: number): Promise<BlockStatus> {
    this.checkRange(offset, length);
    return this.exclusive(async () => {
      const m = await this.map(offset, Math.max(1, length));
      const kind =
        m.kind === ClusterKind.Zero
          ? "zero"
          : m.kind === ClusterKind.Unallocated
            ? this.backing && offset < this.backing.size
              ? "backing"
              : "zero"
            : "data";
      return { kind, length: m.length };
    });
  }

  /** Snapshots as `info` lists them. */
  listSnapshots(): SnapshotInfo[] {
    return this.snapshots.map((s) => ({
      id: s.id,
      name: s.name,
      vmStateSize: s.vmStateSize,
      dateSec: s.dateSec,
      dateNsec: s.dateNsec,
      vmClockNsec: s.vmClockNsec,
      ...(s.icount !== null && s.icount >= 0 ? { icount: s.icount } : {}),
      ...(s.diskSize !== null ? { diskSize: s.diskSize } : {}),
    }));
  }

  async actualSize(): Promise<number> {
    return this.file.allocatedBytes();
  }

  async info(): Promise<ImageInfo> {
    const h = this.hdr;
    const info: ImageInfo = {
      format: "qcow2",
      virtualSize: h.size,
      clusterSize: this.cs,
      snapshots: this.listSnapshots(),
      dirty: (h.incompatibleFeatures & INCOMPAT_DIRTY) !== 0,
      formatSpecific: {
        type: "qcow2",
        data:
          h.version === 3
            ? {
                compat: "1.1",
                "compression-type": h.compressionType === 1 ? "zstd" : "zlib",
                "lazy-refcounts": (h.compatibleFeatures & COMPAT_LAZY_REFCOUNTS) !== 0,
                "refcount-bits": 2 ** h.refcountOrder,
                corrupt: (h.incompatibleFeatures & INCOMPAT_CORRUPT) !== 0,
                "extended-l2": false,
              }
            : { compat: "0.10", "compression-type": "zlib", "refcount-bits": 16 },
      },
    };
    if (h.backingFile) {
      info.backingFilename = h.backingFile;
      info.fullBackingFilename = this.host.resolveRelative(this.path, h.backingFile);
      if (h.backingFormat) info.backingFormat = h.backingFormat;
    }
    return info;
  }

  /** @internal Rewrite the header cluster (backing name changes). Not atomic; used by offline tools only. */
  async rewriteHeader(): Promise<void> {
    const b = serializeHeader(this.hdr);
    await this.file.write(0, b);
  }

  /** Change the backing file name and format recorded in the header (`rebase -u`). */
  async setBackingName(name: string | null, format: string | null): Promise<void> {
    this.checkWritable();
    await this.exclusive(async () => {
      this.hdr.backingFile = name && name.length > 0 ? name : null;
      this.hdr.backingFormat = this.hdr.backingFile ? format : null;
      await this.rewriteHeader();
      await this.file.sync();
    });
  }

  /**
   * Change the virtual size. Growing may move the L1 table (new table first, then the header switch, then
   * the old one is freed); shrinking discards the clusters past the new end first.
   */
  async resize(newSize: number, allowShrink: boolean): Promise<void> {
    this.checkWritable();
    if (!Number.isSafeInteger(newSize) || newSize < 0) throw new UserError(`invalid size ${newSize}`);
    if (newSize < this.size && !allowShrink) {
      throw new UserError("use the --shrink option to shrink an image (data past the new end is lost)");
    }
    if (this.snapshots.length > 0 && newSize < this.size) {
      throw new UserError("cannot shrink an image which has snapshots");
    }
    if (this.hdr.version < 3 && this.snapshots.length > 0) {
      throw new UserError("cannot resize a v2 image which has snapshots");
    }
    if (newSize < this.size) {
      const keep = Math.ceil(newSize / this.cs) * this.cs;
      if (keep > newSize) await this.writeZeroes(newSize, Math.min(keep, this.size) - newSize);
      if (this.size > keep) await this.writeZeroes(keep, this.size - keep);
    }
    await this.exclusive(async () => {
      const need = l1EntriesFor(newSize, this.clusterBits);
      if (need * 8 > MAX_L1_BYTES)
        throw new UserError(`size ${newSize} needs an L1 table larger than 32 MiB`);
      if (need > this.hdr.l1Size) await this.growL1(need);
      const b = new Uint8Array(8);
      putBe64(b, 0, newSize);
      await this.file.write(24, b);
      this.hdr.size = newSize;
      await this.file.sync();
    });
  }

  /**
   * Show a snapshot's disk state instead of the current one, on an image opened read-only (the reads of
   * `qemu-img convert -l`): the snapshot's L1 table stands in for the active one in memory only.
   */
  async viewSnapshot(s: Qcow2Snapshot): Promise<void> {
    if (!this.readOnly) throw new UserError(`${this.path}: a snapshot view needs a read-only image`);
    await this.exclusive(async () => {
      const l1 = await this.readSnapshotL1(s);
      const offs = new Float64Array(Math.max(l1.length, l1EntriesFor(this.size, this.clusterBits)));
      offs.set(l1);
      this.l1Off = offs;
      this.l1Copied = new Uint8Array(offs.length);
      this.dropL2Cache();
    });
  }

  /** Grow the active L1 table to `need` entries: new table first, then the header switch, then the old one is freed. */
  private async growL1(need: number): Promise<void> {
    if (need * 8 > MAX_L1_BYTES) throw new UserError("the L1 table would be larger than 32 MiB");
    const offs = new Float64Array(need);
    const cp = new Uint8Array(need);
    offs.set(this.l1Off);
    cp.set(this.l1Copied);
    const bytes = Qcow2Image.encodeL1(offs, cp);
    const n = Math.ceil(bytes.length / this.cs);
    const at = await this.refc.allocate(n);
    await this.checkWrite(META_NONE, at, bytes.length);
    this.meta.add(META_ACTIVE_L1, at, bytes.length);
    await this.file.write(at, bytes);
    const b = new Uint8Array(12);
    putBe32(b, 0, need);
    putBe64(b, 4, at);
    await this.file.write(36, b);
    const oldOff = this.hdr.l1TableOffset;
    const oldLen = this.hdr.l1Size * 8;
    this.hdr.l1TableOffset = at;
    this.hdr.l1Size = need;
    this.l1Off = offs;
    this.l1Copied = cp;
    if (oldLen > 0) {
      this.meta.remove(META_ACTIVE_L1, oldOff, oldLen);
      await this.refc.adjust(oldOff, oldLen, -1);
    }
  }

  /** @internal The host, for the snapshot and check modules. */
  get storageHost(): StorageHost {
    return this.host;
  }
}
