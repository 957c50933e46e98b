/** `check` for qcow2: rebuild refcounts from every reference, compare, and optionally repair (QEMU's qcow2_check_refcounts). */
import { errorMessage, ImageFormatError } from "../../base/errors.js";
import { printable } from "../printable.js";
import { INCOMPAT_CORRUPT, INCOMPAT_DIRTY } from "./header.js";
import { ClusterKind, decodeL2, type L2Entry } from "./l2-entry.js";
import type { Qcow2Metadata } from "./metadata.js";
import { serializeSnapshotTable } from "./snapshot-table.js";
import { forEachReference, l2Tables, updateCopiedFlags } from "./tree-walk.js";

export type RepairMode = "none" | "leaks" | "all";

/** Messages kept per check; more are summarised in one line. */
const MAX_MESSAGES = 1000;

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
  let r: CheckResult;
  try {
    r = await checkLocked(img, "all");
  } catch (e) {
    throw new ImageFormatError(
      `qcow2: ${printable(img.path)}: the image was not closed cleanly and repairing its refcounts failed: ${errorMessage(e)}`,
    );
  }
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
  // Messages are capped: a crafted image could otherwise produce one per cluster it claims.
  const say = (m: string): void => {
    if (r.messages.length < MAX_MESSAGES) r.messages.push(m);
    else if (r.messages.length === MAX_MESSAGES) r.messages.push("(further messages omitted)");
  };
  const add = (off: number, len: number, what: string, n = 1): void => {
    const first = Math.floor(off / cs);
    const last = Math.floor((off + len - 1) / cs);
    for (let c = first; c <= last; c++) {
      if (c >= fileClusters) {
        r.corruptions++;
        say(`ERROR ${what} at ${c * cs} is beyond the end of the image file`);
      }
      refs.set(c, (refs.get(c) ?? 0) + n);
    }
  };
  add(0, cs, "header");
  // Every L1 table, the active one and each snapshot's. Their L2 tables are gathered first and each
  // distinct table is decoded once, weighted by how many L1 entries name it (snapshots share most of
  // theirs): the walk is one pass over the L2 tables in the file, however many L1 entries name them.
  const l2Refs = new Map<number, number>();
  const activeL2 = l2Tables(img.l1Off);
  const gather = (l1: Float64Array, l1Off: number, label: string): void => {
    if (l1.length > 0) add(l1Off, l1.length * 8, `${label} L1 table`);
    for (const [off, n] of l2Tables(l1)) l2Refs.set(off, (l2Refs.get(off) ?? 0) + n);
  };
  gather(img.l1Off, img.hdr.l1TableOffset, "active");
  for (const s of img.snapshots) {
    try {
      gather(await img.readSnapshotL1(s), s.l1TableOffset, `snapshot '${printable(s.name)}'`);
    } catch (e) {
      r.checkErrors++;
      say(`ERROR snapshot '${printable(s.name)}': ${errorMessage(e)}`);
    }
  }
  const e: L2Entry = { kind: ClusterKind.Unallocated, host: 0, csize: 0, copied: false };
  let prev = -1;
  for (const [off, n] of l2Refs) {
    add(off, cs, "L2 table", n);
    const active = activeL2.get(off) ?? 0;
    try {
      const t = await img.readL2(off);
      for (let j = 0; j < img.l2Entries; j++) {
        decodeL2(t, j, img.clusterBits, img.hdr.version, img.refc.fileEnd, e);
        if (e.kind === ClusterKind.Unallocated || (e.kind === ClusterKind.Zero && e.host === 0)) continue;
        if (e.kind === ClusterKind.Compressed) {
          add(e.host, e.csize, "compressed cluster", n);
          r.allocatedClusters += active;
          r.compressedClusters += active;
          continue;
        }
        add(e.host, cs, "data cluster", n);
        if (active > 0 && e.kind === ClusterKind.Normal) {
          r.allocatedClusters += active;
          if (prev >= 0 && e.host !== prev + cs) r.fragmentedClusters++;
          prev = e.host;
        }
      }
    } catch (err) {
      r.checkErrors++;
      r.corruptions++;
      say(`ERROR L2 table at ${off}: ${errorMessage(err)}`);
    }
    const y = img.meter.step(img.l2Entries);
    if (y) await y;
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
  // Every cluster of the file, then any referenced past its end (already counted as corruption). Like
  // QEMU's compare_refcounts, refcounts of clusters past the end are not compared: the loop is bounded by
  // the file, not by what the refcount table or an L2 entry claims.
  const beyond = [...refs.keys()].filter((c) => c >= fileClusters).sort((a, b) => a - b);
  const diffs: { c: number; have: number; want: number }[] = [];
  const compare = async (c: number): Promise<void> => {
    const want = refs.get(c) ?? 0;
    const have = c < covered ? await img.refc.get(c) : 0;
    if (want > 0 || have > 0) highest = c;
    if (want !== have) diffs.push({ c, have, want });
    const y = img.meter.step();
    if (y) await y;
  };
  for (let c = 0; c < fileClusters; c++) await compare(c);
  for (const c of beyond) await compare(c);
  // A referenced cluster with refcount 0 could be handed out again; QEMU fixes that only by rebuilding the
  // refcount structures, which `-r leaks` may not do, so that check fails (qemu-img exits 1) and fixes nothing.
  const zeroed = diffs.filter((d) => d.have === 0);
  if (repair === "leaks" && zeroed.length > 0) {
    for (const d of zeroed) say(`ERROR cluster ${d.c} refcount=0 reference=${d.want}`);
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
      // With a table unreadable, "unreferenced" may only mean "not seen": lowering a refcount then could
      // free a cluster in use, so leaks are only reported.
      if (repair !== "none" && r.checkErrors === 0) {
        say(`Repairing cluster ${c} refcount=${have} reference=${want}`);
        await img.refc.set(c, want);
        r.leaksFixed++;
      } else {
        say(`Leaked cluster ${c} refcount=${have} reference=${want}`);
      }
    } else {
      r.corruptions++;
      const canFix = repair === "all" && c < fileClusters && want <= img.refc.maxRefcount && hasBlock(img, c);
      say(`${canFix ? "Repairing" : "ERROR"} cluster ${c} refcount=${have} reference=${want}`);
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
