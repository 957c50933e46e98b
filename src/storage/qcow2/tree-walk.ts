/**
 * Walking an L1 table's clusters: refcount adjustment and COPIED-flag upkeep shared by snapshots and check.
 * Each distinct L2 table is decoded once, with the number of L1 entries that point at it: an L1 table
 * whose entries all name one L2 table (legal to express, never written by QEMU or tvisor) then costs one
 * table's work, not one per entry, so every walk is bounded by the file's size.
 */

import { ClusterKind, decodeL2, encodeStandard, type L2Entry } from "./l2-entry.js";
import type { Qcow2Metadata } from "./metadata.js";
import { META_ACTIVE_L2, META_INACTIVE_L2 } from "./overlap.js";

/** The distinct L2 tables an L1 table references, in first-use order, with how many entries name each. */
export function l2Tables(l1: Float64Array): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < l1.length; i++) {
    const off = l1[i]!;
    if (off !== 0) out.set(off, (out.get(off) ?? 0) + 1);
  }
  return out;
}

/**
 * Visit every cluster reference reachable from an L1 table: each distinct L2 table, then its entries.
 * `count` is how many L1 entries reach that table (1 in any image QEMU or tvisor wrote).
 */
export async function forEachReference(
  img: Qcow2Metadata,
  l1: Float64Array,
  onL2: (off: number, count: number) => Promise<void> | void,
  onEntry: (e: L2Entry, l2off: number, i: number, count: number) => Promise<void> | void,
): Promise<void> {
  const e: L2Entry = { kind: ClusterKind.Unallocated, host: 0, csize: 0, copied: false };
  for (const [off, count] of l2Tables(l1)) {
    await onL2(off, count);
    const t = await img.readL2(off);
    for (let j = 0; j < img.l2Entries; j++) {
      decodeL2(t, j, img.clusterBits, img.hdr.version, img.refc.fileEnd, e);
      if (e.kind === ClusterKind.Unallocated || (e.kind === ClusterKind.Zero && e.host === 0)) continue;
      await onEntry(e, off, j, count);
    }
    const y = img.meter.step(img.l2Entries);
    if (y) await y;
  }
}

/**
 * Add delta to the refcount of everything an L1 table references (QEMU's update_snapshot_refcount):
 * refcounts count paths from L1 tables, so a snapshot adds one to each L2 table and data cluster.
 */
export async function adjustTree(img: Qcow2Metadata, l1: Float64Array, delta: number): Promise<void> {
  await forEachReference(
    img,
    l1,
    (off, n) => img.refc.adjust(off, img.cs, delta * n),
    (e, _off, _i, n) =>
      img.refc.adjust(e.host, e.kind === ClusterKind.Compressed ? e.csize : img.cs, delta * n),
  );
}

/** Make COPIED in the active L1 and its L2 tables equal "refcount == 1" (spec: QCOW_OFLAG_COPIED). */
export async function updateCopiedFlags(img: Qcow2Metadata): Promise<number> {
  let fixed = 0;
  for (let i = 0; i < img.l1Off.length; i++) {
    const off = img.l1Off[i]!;
    if (off === 0) continue;
    const want = (await img.refc.get(off / img.cs)) === 1;
    if (want !== (img.l1Copied[i] === 1)) {
      await img.setL1(i, off, want);
      fixed++;
    }
    const y = img.meter.step();
    if (y) await y;
  }
  const e: L2Entry = { kind: ClusterKind.Unallocated, host: 0, csize: 0, copied: false };
  for (const off of l2Tables(img.l1Off).keys()) {
    const t = await img.readL2(off);
    let changed = false;
    for (let j = 0; j < img.l2Entries; j++) {
      decodeL2(t, j, img.clusterBits, img.hdr.version, img.refc.fileEnd, e);
      if (e.host === 0 || (e.kind !== ClusterKind.Normal && e.kind !== ClusterKind.Zero)) continue;
      const w = (await img.refc.get(e.host / img.cs)) === 1;
      if (w !== e.copied) {
        encodeStandard(t, j, e.host, w, e.kind === ClusterKind.Zero);
        changed = true;
        fixed++;
      }
    }
    if (changed) {
      // An active L2 table may also be a snapshot's (shared, COPIED clear): that is not an overlap.
      await img.checkWrite(META_ACTIVE_L2 | META_INACTIVE_L2, off, img.cs);
      await img.file.write(off, t);
    }
    const y = img.meter.step(img.l2Entries);
    if (y) await y;
  }
  return fixed;
}
