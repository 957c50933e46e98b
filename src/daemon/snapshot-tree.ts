/** A VM's snapshot tree as the daemon records it: pure operations on the list of snapshot records. */
import type { SnapshotInfo, SnapshotList } from "../api/snapshots.js";
import type { VmRecord } from "./vm-store.js";

export function treeOf(rec: VmRecord): SnapshotList {
  return { current: rec.currentSnapshot ?? null, snapshots: structuredClone(rec.snapshots ?? []) };
}

export function findRecord(rec: VmRecord, name: string): SnapshotInfo | undefined {
  return rec.snapshots?.find((s) => s.name === name);
}

/** A new snapshot becomes a child of the current position, and the current position itself. */
export function addSnapshot(rec: VmRecord, snap: SnapshotInfo): void {
  rec.snapshots = [...(rec.snapshots ?? []), snap];
  rec.currentSnapshot = snap.name;
}

/**
 * Remove a snapshot from the tree: its children move up to its parent (as VirtualBox does), and a current
 * position on it moves to its parent too, since the current state still descends from there.
 */
export function removeSnapshot(rec: VmRecord, name: string): void {
  const gone = findRecord(rec, name);
  if (!gone) return;
  rec.snapshots = (rec.snapshots ?? [])
    .filter((s) => s.name !== name)
    .map((s) => (s.parent === name ? { ...s, parent: gone.parent } : s));
  if (rec.currentSnapshot === name) rec.currentSnapshot = gone.parent;
}
