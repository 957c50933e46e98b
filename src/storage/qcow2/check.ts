/** `check` for qcow2: rebuild refcounts from every reference, compare, and optionally repair (QEMU's qcow2_check_refcounts). */
import { errorMessage, ImageFormatError } from "../../base/errors.js";
import { printable } from "../printable.js";
import { INCOMPAT_CORRUPT, INCOMPAT_DIRTY } from "./header.js";
import { ClusterKind } from "./l2-entry.js";
import type { Qcow2Metadata } from "./metadata.js";
import { serializeSnapshotTable } from "./snapshot-table.js";
import { forEachReference, updateCopiedFlags } from "./tree-walk.js";

export type RepairMode = "none" | "leaks" | "all";

export interface CheckResult {
  corruptions: number;
  leaks: number;
  corruptionsFixed: number;
  leaksFixed: number;
  /** Structures that could not be read at all (the check is then incomplete). */
  checkErrors: number;
  /**
   * Set when the check had to stop: `-r leaks` found a referenced cluster whose stored refcount is 0, which
   * only rebuilding the refcount structures (`-r all`) can fix (QEMU's "need to rebuild refcount structures").
   */
  failed: string | null;
  messages: string[];
  totalClusters: number;
  allocatedClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
  imageEndOffset: number;
}

/**
 * Compute reference counts by walking every structure, then compare them with the stored refcounts.
 * A repairing check that leaves the image consistent (no corruption left, nothing unreadable) clears the
 * dirty and corrupt bits (spec "incompatible_features" bits 0 and 1), as QEMU's qcow2_co_check_locked does
 * with qcow2_mark_clean and qcow2_mark_consistent: this is the one way out of the corrupt state.
 */
export async function checkQcow2(img: Qcow2Metadata, repair: RepairMode): Promise<CheckResult> {
  return img.exclusive(async () => {
    const r = await checkLocked(img, repair);
    if (
      repair !== "none" &&
      !img.readOnly &&
      r.failed === null &&
      r.checkErrors === 0 &&
      r.corruptions === r.corruptionsFixed &&
      (img.hdr.incompatibleFeatures & (INCOMPAT_DIRTY | INCOMPAT_CORRUPT)) !== 0
    ) {
      await img.setIncompatBit(INCOMPAT_DIRTY | INCOMPAT_CORRUPT, false);
      await img.file.sync();
    }
    return r;
  });
}

/** Used when opening a dirty image for writing: make the refcounts exact before anything else. */
export async function repairRefcounts(img: Qcow2Metadata): Promise<void> {
  const r = await checkLocked(img, "all");
  if (r.corruptions - r.corruptionsFixed > 0 || r.checkErrors > 0) {
    throw new ImageFormatError(
      `qcow2: ${printable(img.path)}: the image was not closed cleanly and its refcounts could not be repaired (${r.corruptions - r.corruptionsFixed} errors left); run 'tvisor image check -r all' on it`,
    );
  }
}

async function checkLocked(img: Qcow2Metadata, repair: RepairMode): Promise<CheckResult> {
  const cs = img.cs;
  const r: CheckResult = {
    corruptions: 0,
    leaks: 0,
    corruptionsFixed: 0,
    leaksFixed: 0,
    checkErrors: 0,
    failed: null,
    messages: [],
    totalClusters: Math.ceil(img.size / cs),
    allocatedClusters: 0,
    fragmentedClusters: 0,
    compressedClusters: 0,
    imageEndOffset: 0,
  };
  const fileClusters = Math.ceil(img.refc.fileEnd / cs);
  const refs = new Map<number, number>();
  const add = (off: number, len: number, what: string): void => {
    const first = Math.floor(off / cs);
    const last = Math.floor((off + len - 1) / cs);
    for (let c = first; c <= last; c++) {
      if (c >= fileClusters) {
        r.corruptions++;
        r.messages.push(`ERROR ${what} at ${c * cs} is beyond the end of the image file`);
      }
      refs.set(c, (refs.get(c) ?? 0) + 1);
    }
  };
  add(0, cs, "header");
  const walk = async (l1: Float64Array, l1Off: number, active: boolean, label: string): Promise<void> => {
    if (l1.length > 0) add(l1Off, l1.length * 8, `${label} L1 table`);
    let prev = -1;
    try {
      await forEachReference(
        img,
        l1,
        (off) => add(off, cs, `${label} L2 table`),
        (e) => {
          if (e.kind === ClusterKind.Compressed) {
            add(e.host, e.csize, `${label} compressed cluster`);
            if (active) {
              r.allocatedClusters++;
              r.compressedClusters++;
            }
            return;
          }
          add(e.host, cs, `${label} data cluster`);
          if (active && e.kind === ClusterKind.Normal) {
            r.allocatedClusters++;
            if (prev >= 0 && e.host !== prev + cs) r.fragmentedClusters++;
            prev = e.host;
          }
        },
      );
    } catch (e) {
      r.checkErrors++;
      r.corruptions++;
      r.messages.push(`ERROR ${label}: ${errorMessage(e)}`);
    }
  };
  await walk(img.l1Off, img.hdr.l1TableOffset, true, "active");
  for (const s of img.snapshots) {
    try {
      await walk(await img.readSnapshotL1(s), s.l1TableOffset, false, `snapshot '${printable(s.name)}'`);
    } catch (e) {
      r.checkErrors++;
      r.messages.push(`ERROR snapshot '${printable(s.name)}': ${errorMessage(e)}`);
    }
  }
  if (img.snapshots.length > 0) {
    add(img.hdr.snapshotsOffset, serializeSnapshotTable(img.snapshots).length, "snapshot table");
  }
  add(img.refc.tableOffset, img.refc.tableClusters * cs, "refcount table");
  for (const b of img.refc.blockOffsets()) add(b, cs, "refcount block");

  // Compare (QEMU compare_refcounts): more on disk than referenced is a leak, less is corruption.
  const blockEntries = img.refc.blockEntries;
  const covered = img.refc.tableEntries() * blockEntries;
  let highest = 0;
  let limit = fileClusters;
  for (const k of refs.keys()) if (k > limit) limit = k;
  const diffs: { c: number; have: number; want: number }[] = [];
  for (let c = 0; c <= limit; c++) {
    const want = refs.get(c) ?? 0;
    const have = c < covered ? await img.refc.get(c) : 0;
    if (want > 0 || have > 0) highest = c;
    if (want !== have) diffs.push({ c, have, want });
  }
  // A referenced cluster with refcount 0 could be handed out again; QEMU fixes that only by rebuilding the
  // refcount structures, which `-r leaks` may not do, so that check fails (qemu-img exits 1) and fixes nothing.
  const zeroed = diffs.filter((d) => d.have === 0);
  if (repair === "leaks" && zeroed.length > 0) {
    for (const d of zeroed) r.messages.push(`ERROR cluster ${d.c} refcount=0 reference=${d.want}`);
    r.messages.push("ERROR need to rebuild refcount structures");
    r.corruptions += zeroed.length;
    r.checkErrors++;
    r.failed = "the refcount structures need rebuilding (use '-r all')";
    r.imageEndOffset = (highest + 1) * cs;
    return r;
  }
  for (const { c, have, want } of diffs) {
    if (have > want) {
      r.leaks++;
      if (repair !== "none") {
        r.messages.push(`Repairing cluster ${c} refcount=${have} reference=${want}`);
        await img.refc.set(c, want);
        r.leaksFixed++;
      } else {
        r.messages.push(`Leaked cluster ${c} refcount=${have} reference=${want}`);
      }
    } else {
      r.corruptions++;
      const canFix = repair === "all" && want <= img.refc.maxRefcount && hasBlock(img, c);
      r.messages.push(`${canFix ? "Repairing" : "ERROR"} cluster ${c} refcount=${have} reference=${want}`);
      if (canFix) {
        await img.refc.set(c, want);
        r.corruptionsFixed++;
      }
    }
  }
  r.imageEndOffset = (highest + 1) * cs;

  // COPIED flags (QEMU check_oflag_copied) against the now-current refcounts.
  const bad = await countCopiedMismatches(img);
  if (bad > 0) {
    r.corruptions += bad;
    if (repair === "all" && !img.readOnly) {
      const fixed = await updateCopiedFlags(img);
      r.corruptionsFixed += Math.min(bad, fixed);
      img.dropL2Cache();
      r.messages.push(`Repaired ${fixed} OFLAG_COPIED flags`);
    } else {
      r.messages.push(`ERROR ${bad} entries have an OFLAG_COPIED flag that disagrees with their refcount`);
    }
  }
  if (repair !== "none") await img.file.sync();
  return r;
}

/** Setting a refcount whose block is missing would allocate one, maybe over a cluster in use; refuse that. */
function hasBlock(img: Qcow2Metadata, cluster: number): boolean {
  const idx = Math.floor(cluster / img.refc.blockEntries);
  return img.refc.hasBlockAt(idx);
}

async function countCopiedMismatches(img: Qcow2Metadata): Promise<number> {
  let bad = 0;
  try {
    for (let i = 0; i < img.l1Off.length; i++) {
      const off = img.l1Off[i]!;
      if (off === 0) continue;
      if (((await img.refc.get(off / img.cs)) === 1) !== (img.l1Copied[i] === 1)) bad++;
    }
    await forEachReference(
      img,
      img.l1Off,
      () => undefined,
      async (e) => {
        if (e.kind === ClusterKind.Compressed || e.host === 0) return;
        if (((await img.refc.get(e.host / img.cs)) === 1) !== e.copied) bad++;
      },
    );
  } catch {
    // Unreadable tables were already counted by the walk.
  }
  return bad;
}
