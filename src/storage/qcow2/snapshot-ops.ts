/** Internal snapshots of a qcow2 image: create, apply, delete with refcounts kept exact (qcow2 spec, "Snapshots"). */
import { UserError } from "../../base/errors.js";
import { putBe32, putBe64 } from "../bytes.js";
import { printable } from "../printable.js";
import { MAX_SNAPSHOTS } from "./header.js";
import { Qcow2Image } from "./image.js";
import { META_ACTIVE_L1 } from "./overlap.js";
import { type Qcow2Snapshot, serializeSnapshotTable } from "./snapshot-table.js";
import { adjustTree, updateCopiedFlags } from "./tree-walk.js";

/** QEMU looks a snapshot up by id first, then by name (find_snapshot_by_id_or_name). */
function find(img: Qcow2Image, key: string): number {
  let i = img.snapshots.findIndex((s) => s.id === key);
  if (i < 0) i = img.snapshots.findIndex((s) => s.name === key);
  if (i < 0) throw new UserError(`snapshot '${printable(key)}' not found in ${printable(img.path)}`);
  return i;
}

/**
 * Write a new snapshot table elsewhere, switch the header to it in one 12-byte write (nb_snapshots and
 * snapshots_offset are adjacent), then free the old table: a crash leaves either table, never half of one.
 */
async function replaceTable(img: Qcow2Image, snaps: Qcow2Snapshot[]): Promise<void> {
  const h = img.hdr;
  const bytes = serializeSnapshotTable(snaps);
  let at = 0;
  if (snaps.length > 0) {
    at = await img.refc.allocate(Math.ceil(bytes.length / img.cs));
    await img.file.write(at, bytes);
  }
  const b = new Uint8Array(12);
  putBe32(b, 0, snaps.length);
  putBe64(b, 4, at);
  await img.file.write(60, b);
  const oldOff = h.snapshotsOffset;
  const oldLen = img.snapshots.length > 0 ? serializeSnapshotTable(img.snapshots).length : 0;
  h.nbSnapshots = snaps.length;
  h.snapshotsOffset = at;
  img.snapshots = snaps;
  if (oldLen > 0) await img.refc.adjust(oldOff, oldLen, -1);
}

export interface SnapshotCreateOptions {
  vmClockNsec?: number;
  now?: Date;
  /**
   * Bytes of machine state already written to the VM-state area (Qcow2Image.writeVmState): the snapshot's
   * L1 copy keeps them and its table entry records the length (qcow2 spec: vm_state_size).
   */
  vmStateSize?: number;
  /**
   * false: leave the fsync to the caller (a running VM's snapshot syncs once after its guest resumed;
   * nothing is ordered by it here, the writes before it are unordered page-cache writes either way).
   */
  sync?: boolean;
}

/** Create a snapshot of the current disk state (no VM state). */
export async function createSnapshot(
  img: Qcow2Image,
  name: string,
  opts: SnapshotCreateOptions = {},
): Promise<void> {
  if (img.readOnly) throw new UserError(`${img.path}: image is read-only`);
  if (name.length === 0 || name.length > 65535) throw new UserError("snapshot name must be 1..65535 bytes");
  await img.exclusive(async () => {
    if (img.snapshots.some((s) => s.name === name)) throw new UserError(`snapshot '${name}' already exists`);
    if (img.snapshots.length >= MAX_SNAPSHOTS) throw new UserError("too many snapshots");
    // 1. A copy of the active L1 table.
    const l1 = Qcow2Image.encodeL1(img.l1Off, img.l1Copied);
    const l1Off = l1.length > 0 ? await img.refc.allocate(Math.ceil(l1.length / img.cs)) : 0;
    if (l1.length > 0) await img.file.write(l1Off, l1);
    // 2. Every cluster it reaches gains a reference, and stops being COPIED (later writes copy it).
    await adjustTree(img, img.l1Off, 1);
    await updateCopiedFlags(img);
    // 3. The table entry, which makes the snapshot visible.
    let id = 1;
    for (const s of img.snapshots) id = Math.max(id, (Number.parseInt(s.id, 10) || 0) + 1);
    const now = opts.now ?? new Date();
    const snap: Qcow2Snapshot = {
      l1TableOffset: l1Off,
      l1Size: img.l1Off.length,
      id: String(id),
      name,
      dateSec: Math.floor(now.getTime() / 1000),
      dateNsec: (now.getTime() % 1000) * 1e6,
      vmClockNsec: opts.vmClockNsec ?? 0,
      vmStateSize: opts.vmStateSize ?? 0,
      diskSize: img.size,
      icount: -1,
      extraTail: new Uint8Array(0),
    };
    await replaceTable(img, [...img.snapshots, snap]);
    await img.rebuildMeta();
    if (opts.sync !== false) await img.file.sync();
  });
}

/** Revert the active disk state to a snapshot; the current state is dropped. */
export async function applySnapshot(img: Qcow2Image, key: string): Promise<void> {
  if (img.readOnly) throw new UserError(`${img.path}: image is read-only`);
  await img.exclusive(async () => {
    const s = img.snapshots[find(img, key)]!;
    if (s.diskSize !== null && s.diskSize !== img.size) {
      throw new UserError("loading snapshots with a different disk size is not supported");
    }
    const snapL1 = await img.readSnapshotL1(s);
    if (snapL1.length > img.l1Off.length) {
      throw new UserError("snapshot L1 table is larger than the active one (resize the image first)");
    }
    // Take references for the snapshot's tree before the active L1 points into it.
    await adjustTree(img, snapL1, 1);
    const old = img.l1Off.slice();
    const offs = new Float64Array(img.l1Off.length);
    offs.set(snapL1);
    const copied = new Uint8Array(offs.length);
    await img.checkWrite(META_ACTIVE_L1, img.hdr.l1TableOffset, offs.length * 8);
    await img.file.write(img.hdr.l1TableOffset, Qcow2Image.encodeL1(offs, copied));
    img.l1Off = offs;
    img.l1Copied = copied;
    img.dropL2Cache();
    await adjustTree(img, old, -1);
    await updateCopiedFlags(img);
    await img.rebuildMeta();
    await img.file.sync();
  });
}

/** Delete a snapshot and release what only it referenced. */
export async function deleteSnapshot(img: Qcow2Image, key: string): Promise<void> {
  if (img.readOnly) throw new UserError(`${img.path}: image is read-only`);
  await img.exclusive(async () => {
    const idx = find(img, key);
    const s = img.snapshots[idx]!;
    const snapL1 = await img.readSnapshotL1(s);
    // Unlink first: a crash after this point only leaks clusters.
    await replaceTable(
      img,
      img.snapshots.filter((_, i) => i !== idx),
    );
    await adjustTree(img, snapL1, -1);
    if (s.l1Size > 0) await img.refc.adjust(s.l1TableOffset, s.l1Size * 8, -1);
    img.dropL2Cache();
    await updateCopiedFlags(img);
    await img.rebuildMeta();
    await img.file.sync();
  });
}
