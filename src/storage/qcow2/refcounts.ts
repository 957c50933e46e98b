/** qcow2 host cluster management: the two-level refcount structure and cluster allocation (qcow2 spec, "Host cluster management"). */
import { ImageFormatError } from "../../base/errors.js";
import { be32, putBe32, putBe64 } from "../bytes.js";
import type { FileHandle } from "../file-handle.js";
import { WorkMeter } from "../yield.js";
import { META_REFBLOCK, META_REFTABLE } from "./overlap.js";

/** Refcount blocks kept in memory; write-through, so eviction is free. */
const BLOCK_CACHE_LIMIT = 256;

export interface RefcountHooks {
  /** Persist a moved refcount table in the header (refcount_table_offset and _clusters). */
  tableMoved(offset: number, clusters: number): Promise<void>;
  /** Throws if a cluster about to be (re)used overlaps known metadata: refcounts then lie (spec: corrupt bit). */
  checkOverlap(cluster: number, count: number): Promise<void>;
  /**
   * Throws (marking the image corrupt) if a metadata write of the kind in `own` at [offset, offset+length)
   * would land on any other metadata structure (QEMU's pre-write overlap check).
   */
  checkWrite(own: number, offset: number, length: number): Promise<void>;
  /** A new refcount block now lives at offset (for the metadata map). */
  blockPlaced(offset: number): void;
}

export class Refcounts {
  readonly bits: number;
  readonly maxRefcount: number;
  /** Entries per refcount block: cluster_size * 8 / refcount_bits. */
  readonly blockEntries: number;
  private readonly cs: number;
  /** Refcount table: entry i is the offset of the block covering clusters [i*blockEntries, (i+1)*blockEntries). */
  private table: number[];
  tableOffset: number;
  tableClusters: number;
  private readonly blocks = new Map<number, Uint8Array>();
  /** Lowest cluster that might be free; allocation searches upward from here (like QEMU's free_cluster_index). */
  private freeHint = 0;
  /** Counts clusters the free-cluster search visits (and yields now and then); shared with the image. */
  meter = new WorkMeter();
  /**
   * End of the file in bytes as allocation sees it: the file's length, or more when data clusters were
   * allocated past it and only partly written (see allocate). Reads past the real end return zeroes.
   */
  fileEnd: number;

  constructor(
    private readonly file: FileHandle,
    readonly clusterBits: number,
    readonly order: number,
    rawTable: Uint8Array,
    tableOffset: number,
    fileSize: number,
    private readonly hooks: RefcountHooks,
    meter?: WorkMeter,
  ) {
    if (meter) this.meter = meter;
    this.cs = 2 ** clusterBits;
    this.bits = 2 ** order;
    this.maxRefcount = this.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.bits - 1;
    this.blockEntries = (this.cs * 8) / this.bits;
    this.tableOffset = tableOffset;
    this.tableClusters = rawTable.length / this.cs;
    this.fileEnd = fileSize;
    this.table = [];
    for (let i = 0; i < rawTable.length; i += 8) {
      const hi = be32(rawTable, i);
      const lo = be32(rawTable, i + 4);
      // Spec: bits 0-8 of a table entry are reserved; offsets must be cluster-aligned and inside the file.
      const off = (hi & 0x00ffffff) * 0x100000000 + (lo >>> 9) * 512;
      if (off !== 0 && (hi > 0x00ffffff || lo & 511 || off % this.cs !== 0 || off + this.cs > fileSize)) {
        throw new ImageFormatError(
          `qcow2: refcount table entry ${i / 8} (offset ${off}) is invalid or past the end of the file`,
        );
      }
      this.table.push(off);
      if (off) this.blockSet.add(off / this.cs);
    }
  }

  /** Offsets of every refcount block (for overlap checks and `check`). */
  blockOffsets(): number[] {
    return this.table.filter((o) => o !== 0);
  }

  /** True if refcount block idx exists. */
  hasBlockAt(idx: number): boolean {
    return (this.table[idx] ?? 0) !== 0;
  }

  /** True if the cluster holds a refcount block. */
  isBlock(cluster: number): boolean {
    return this.blockSet.has(cluster);
  }

  /** Counts allocations, so a cached "partly used cluster" can tell it may have been reused. */
  allocations = 0;
  private readonly blockSet = new Set<number>();

  tableEntries(): number {
    return this.table.length;
  }

  private async loadBlock(idx: number): Promise<Uint8Array | null> {
    const off = this.table[idx];
    if (off === undefined || off === 0) return null;
    let b = this.blocks.get(idx);
    if (b) return b;
    b = new Uint8Array(this.cs);
    const n = await this.file.read(off, b);
    if (n !== this.cs) throw new ImageFormatError(`qcow2: refcount block at ${off} is truncated`);
    if (this.blocks.size >= BLOCK_CACHE_LIMIT) this.blocks.clear();
    this.blocks.set(idx, b);
    return b;
  }

  private getEntry(b: Uint8Array, i: number): number {
    switch (this.order) {
      case 0:
      case 1:
      case 2: {
        // Sub-byte refcounts are packed from the least significant bit (QEMU get_refcount_ro0..2).
        const per = 8 >> this.order;
        return (b[Math.floor(i / per)]! >> ((i % per) * this.bits)) & (this.maxRefcount as number);
      }
      case 3:
        return b[i]!;
      case 4:
        return (b[2 * i]! << 8) | b[2 * i + 1]!;
      case 5:
        return be32(b, 4 * i);
      default: {
        const hi = be32(b, 8 * i);
        if (hi > 0x1fffff) throw new ImageFormatError("qcow2: refcount is larger than 2^53");
        return hi * 0x100000000 + be32(b, 8 * i + 4);
      }
    }
  }

  /** Set entry i in block b; returns the byte range that changed. */
  private setEntry(b: Uint8Array, i: number, v: number): [number, number] {
    switch (this.order) {
      case 0:
      case 1:
      case 2: {
        const per = 8 >> this.order;
        const byte = Math.floor(i / per);
        const shift = (i % per) * this.bits;
        const mask = this.maxRefcount << shift;
        b[byte] = (b[byte]! & ~mask) | ((v << shift) & mask);
        return [byte, 1];
      }
      case 3:
        b[i] = v;
        return [i, 1];
      case 4:
        b[2 * i] = v >> 8;
        b[2 * i + 1] = v;
        return [2 * i, 2];
      case 5:
        putBe32(b, 4 * i, v);
        return [4 * i, 4];
      default:
        putBe64(b, 8 * i, v);
        return [8 * i, 8];
    }
  }

  /** Refcount of a host cluster; clusters not covered by any block have refcount 0. */
  async get(cluster: number): Promise<number> {
    const idx = Math.floor(cluster / this.blockEntries);
    const b = await this.loadBlock(idx);
    return b ? this.getEntry(b, cluster % this.blockEntries) : 0;
  }

  /** Set refcounts of [cluster, cluster+count) to values from fn; one write per block touched. */
  private async setRange(
    cluster: number,
    count: number,
    fn: (old: number, c: number) => number,
  ): Promise<void> {
    let c = cluster;
    const end = cluster + count;
    while (c < end) {
      const idx = Math.floor(c / this.blockEntries);
      const b = await this.loadBlock(idx);
      if (!b) throw new Error(`internal: no refcount block for cluster ${c}`);
      const stop = Math.min(end, (idx + 1) * this.blockEntries);
      let lo = Number.POSITIVE_INFINITY;
      let hi = 0;
      for (; c < stop; c++) {
        const i = c % this.blockEntries;
        const old = this.getEntry(b, i);
        const v = fn(old, c);
        if (v < 0)
          throw new ImageFormatError(
            `qcow2: refcount of cluster ${c} would drop below zero (image is corrupt)`,
          );
        if (v > this.maxRefcount) {
          throw new ImageFormatError(
            `qcow2: refcount of cluster ${c} would exceed ${this.maxRefcount} (refcount_bits=${this.bits})`,
          );
        }
        const [s, l] = this.setEntry(b, i, v);
        lo = Math.min(lo, s);
        hi = Math.max(hi, s + l);
        if (v === 0 && c < this.freeHint) this.freeHint = c;
      }
      if (hi > lo) {
        await this.hooks.checkWrite(META_REFBLOCK, this.table[idx]! + lo, hi - lo);
        await this.file.write(this.table[idx]! + lo, b.subarray(lo, hi));
      }
    }
  }

  /** Add delta to each refcount of a byte range's clusters (a compressed cluster may span two). */
  async adjust(offset: number, length: number, delta: number): Promise<void> {
    const first = Math.floor(offset / this.cs);
    const last = Math.floor((offset + length - 1) / this.cs);
    await this.ensureCovered(first, last - first + 1);
    await this.setRange(first, last - first + 1, (old) => old + delta);
  }

  /** Set one cluster's refcount outright (repair). */
  async set(cluster: number, value: number): Promise<void> {
    await this.ensureCovered(cluster, 1);
    await this.setRange(cluster, 1, () => value);
  }

  /**
   * Allocate count contiguous free clusters with refcount 1; returns the byte offset. Refcounts go to disk
   * first. With grow false the caller writes the clusters' first bytes itself (a data cluster), so the file
   * is not extended here: that saves an ftruncate per allocation, and until the caller's write, the
   * clusters past the end of the file read as zeroes anyway.
   */
  async allocate(count: number, grow = true): Promise<number> {
    let start: number;
    for (;;) {
      start = await this.findFree(count);
      await this.hooks.checkOverlap(start, count);
      // ensureCovered may put new refcount blocks inside the run (it prefers not to); then search again,
      // from past them. Each retry adds a block, so this ends.
      const used = await this.ensureCovered(start, count, start);
      if (!used.some(([lo, hi]) => lo < start + count && hi > start)) break;
      this.freeHint = Math.max(...used.map(([, hi]) => hi));
    }
    await this.setRange(start, count, () => 1);
    this.allocations++;
    this.freeHint = start + count;
    const end = (start + count) * this.cs;
    if (grow) await this.extendTo(end);
    else if (end > this.fileEnd) this.fileEnd = end;
    return start * this.cs;
  }

  /** Grow the file so every allocated cluster lies inside it (new space is a hole that reads as zeroes). */
  async extendTo(end: number): Promise<void> {
    if (end > this.fileEnd) {
      await this.file.truncate(end);
      this.fileEnd = end;
    }
  }

  /**
   * Find count free clusters in a row, searching up from the hint. The search ends at the end of the file:
   * a cluster there holds nothing, and nothing valid points past the end (L1/L2 tables, refcount blocks,
   * snapshot tables and data and compressed offsets are all checked against the file size), so it is
   * free whatever a stale or hostile refcount says. That bounds the scan by the file's size, not by the
   * clusters the refcount table claims to describe (which a crafted image makes billions).
   */
  private async findFree(count: number): Promise<number> {
    let c = Math.max(this.freeHint, 1);
    let run = 0;
    const end = Math.ceil(this.fileEnd / this.cs);
    while (c < end) {
      const idx = Math.floor(c / this.blockEntries);
      const b = await this.loadBlock(idx);
      if (!b) return c - run; // Whole block uncovered: everything from here is free.
      const stop = Math.min(end, (idx + 1) * this.blockEntries);
      const start = c;
      for (; c < stop; c++) {
        if (this.getEntry(b, c % this.blockEntries) === 0) {
          if (++run === count) return c - count + 1;
        } else {
          run = 0;
        }
      }
      const y = this.meter.step(c - start);
      if (y) await y;
    }
    return c - run;
  }

  /**
   * Make sure refcount blocks exist for [cluster, cluster+count). A missing block is placed inside the range
   * it covers (all of whose clusters are free, since the block is missing) so it describes itself; the block
   * is written before the table entry that points to it (spec: refcounts before use).
   */
  private async ensureCovered(cluster: number, count: number, avoid = -1): Promise<[number, number][]> {
    /** Cluster ranges [lo, hi) now holding new refcount structures. */
    const placed: [number, number][] = [];
    const firstIdx = Math.floor(cluster / this.blockEntries);
    const lastIdx = Math.floor((cluster + count - 1) / this.blockEntries);
    if (lastIdx >= this.table.length) placed.push(await this.growTable(lastIdx + 1));
    for (let idx = firstIdx; idx <= lastIdx; idx++) {
      if (this.table[idx] !== 0) continue;
      const lo = idx * this.blockEntries;
      const hi = lo + this.blockEntries;
      // Prefer a cluster outside the run being allocated; otherwise take the run's first cluster (allocate retries).
      let at = lo;
      if (avoid >= 0 && at >= avoid && at < avoid + count) at = avoid + count < hi ? avoid + count : avoid;
      await this.hooks.checkOverlap(at, 1);
      const b = new Uint8Array(this.cs);
      this.setEntry(b, at - lo, 1);
      await this.file.write(at * this.cs, b);
      if ((at + 1) * this.cs > this.fileEnd) this.fileEnd = (at + 1) * this.cs;
      await this.writeTableEntry(idx, at * this.cs);
      this.blocks.set(idx, b);
      placed.push([at, at + 1]);
    }
    return placed;
  }

  private async writeTableEntry(idx: number, off: number): Promise<void> {
    await this.hooks.checkWrite(META_REFTABLE, this.tableOffset + idx * 8, 8);
    this.table[idx] = off;
    this.blockSet.add(off / this.cs);
    this.hooks.blockPlaced(off);
    const e = new Uint8Array(8);
    putBe64(e, 0, off);
    await this.file.write(this.tableOffset + idx * 8, e);
  }

  /**
   * Move the refcount table to a larger one at the end of the file. The new table and any refcount blocks
   * it needs for its own clusters are written first, then the header switches to it in one write; the old
   * table is freed last, so a crash at any point leaks at most clusters.
   */
  private async growTable(minEntries: number): Promise<[number, number]> {
    const perCluster = this.cs / 8;
    let entries = Math.max(minEntries, Math.ceil(this.table.length * 1.5));
    entries = Math.ceil(entries / perCluster) * perCluster;
    const base = Math.ceil(this.fileEnd / this.cs);
    for (;;) {
      const tableClusters = entries / perCluster;
      if (tableClusters * this.cs > 8 << 20)
        throw new ImageFormatError("qcow2: refcount table would exceed 8 MiB");
      // New blocks go right after the table; iterate until the blocks also cover themselves.
      const newBlocks = new Map<number, number>();
      let end = base + tableClusters;
      for (let changed = true; changed; ) {
        changed = false;
        for (let c = base; c < end; c++) {
          const idx = Math.floor(c / this.blockEntries);
          if ((this.table[idx] ?? 0) === 0 && !newBlocks.has(idx)) {
            newBlocks.set(idx, end++);
            changed = true;
          }
        }
      }
      const maxIdx = Math.max(this.table.length - 1, ...newBlocks.keys());
      if (maxIdx >= entries) {
        entries = Math.ceil((maxIdx + 1) / perCluster) * perCluster;
        continue;
      }
      // 1. New refcount blocks, describing the new table and themselves.
      for (const [idx, at] of newBlocks) {
        const b = new Uint8Array(this.cs);
        for (let c = base; c < end; c++)
          if (Math.floor(c / this.blockEntries) === idx) this.setEntry(b, c % this.blockEntries, 1);
        await this.file.write(at * this.cs, b);
        this.blocks.set(idx, b);
      }
      this.fileEnd = Math.max(this.fileEnd, end * this.cs);
      // 2. Existing blocks that cover part of the new area.
      for (let c = base; c < end; c++) {
        const idx = Math.floor(c / this.blockEntries);
        if (!newBlocks.has(idx)) await this.setRange(c, 1, () => 1);
      }
      // 3. The new table.
      const newTable = this.table.slice();
      for (const [idx, at] of newBlocks) {
        while (newTable.length <= idx) newTable.push(0);
        newTable[idx] = at * this.cs;
      }
      while (newTable.length < entries) newTable.push(0);
      const raw = new Uint8Array(entries * 8);
      for (let i = 0; i < newTable.length; i++) putBe64(raw, i * 8, newTable[i]!);
      await this.file.write(base * this.cs, raw);
      await this.extendTo(end * this.cs);
      // 4. Switch the header, then free the old table.
      const oldOffset = this.tableOffset;
      const oldClusters = this.tableClusters;
      await this.hooks.tableMoved(base * this.cs, tableClusters);
      this.table = newTable;
      for (const at of newBlocks.values()) {
        this.blockSet.add(at);
        this.hooks.blockPlaced(at * this.cs);
      }
      this.tableOffset = base * this.cs;
      this.tableClusters = tableClusters;
      await this.setRange(oldOffset / this.cs, oldClusters, (old) => Math.max(0, old - 1));
      return [base, end];
    }
  }
}
