/** Walking an L1 table's clusters: refcount adjustment and COPIED-flag upkeep shared by snapshots and check. */

import { ClusterKind, decodeL2, encodeStandard, type L2Entry } from "./l2-entry.js";
import type { Qcow2Metadata } from "./metadata.js";

/** Visit every cluster reference reachable from an L1 table: L2 tables, then their entries. */
export async function forEachReference(
  img: Qcow2Metadata,
  l1: Float64Array,
  onL2: (off: number, l1idx: number) => Promise<void> | void,
  onEntry: (e: L2Entry, l2off: number, i: number) => Promise<void> | void,
): Promise<void> {
  const e: L2Entry = { kind: ClusterKind.Unallocated, host: 0, csize: 0, copied: false };
  for (let i = 0; i < l1.length; i++) {
    const off = l1[i]!;
    if (off === 0) continue;
    await onL2(off, i);
    const t = await img.readL2(off);
    for (let j = 0; j < img.l2Entries; j++) {
      decodeL2(t, j, img.clusterBits, img.hdr.version, img.refc.fileEnd, e);
      if (e.kind === ClusterKind.Unallocated || (e.kind === ClusterKind.Zero && e.host === 0)) continue;
      await onEntry(e, off, j);
    }
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
    (off) => img.refc.adjust(off, img.cs, delta),
    (e) => img.refc.adjust(e.host, e.kind === ClusterKind.Compressed ? e.csize : img.cs, delta),
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
    const t = await img.readL2(off);
    let changed = false;
    const e: L2Entry = { kind: ClusterKind.Unallocated, host: 0, csize: 0, copied: false };
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
    if (changed) await img.file.write(off, t);
  }
  return fixed;
}
