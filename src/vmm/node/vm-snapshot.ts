/**
 * Snapshots of a VM kept inside its qcow2 disks, as QEMU's savevm/loadvm keep them: every writable disk
 * gets an internal snapshot of the same name, and the machine state (the state-file bytes: header,
 * components, RAM) goes into the VM-state area of the first writable qcow2 disk, whose snapshot table
 * entry records its length as vm_state_size (qcow2 spec, "Snapshots"; QEMU docs, "VM snapshots"). The
 * image is then self-contained: `qemu-img snapshot -l` lists the snapshot with its VM SIZE.
 */
import { UserError } from "../../base/errors.js";
import type { BlockBackend } from "../../io/block-backend.js";
import { printable } from "../../storage/printable.js";
import { Qcow2Image } from "../../storage/qcow2/image.js";
import { applySnapshot, createSnapshot, deleteSnapshot } from "../../storage/qcow2/snapshot-ops.js";
import type { Qcow2Snapshot } from "../../storage/qcow2/snapshot-table.js";
import type { ByteSource } from "../state-file/reader.js";
import type { ByteSink } from "../state-file/writer.js";
import type { VirtualMachine } from "../vm.js";
import type { VmHost } from "../vm-host.js";
import { type RestoreOptions, restoreVmFromSource, writeVmState } from "./state-file.js";
import { type GuestControl, type PausePhases, type PrecopyReport, PrecopyState } from "./vm-state-precopy.js";

/** A disk as the VM specification names it. */
export interface SnapshotDisk {
  path: string;
  readOnly?: boolean;
}

/** What a snapshot holds. */
export interface VmSnapshotResult {
  /** Spec indexes of the disks that got the snapshot (the writable ones). */
  disks: number[];
  /** The disk whose VM-state area holds the machine state; null for a disks-only snapshot. */
  stateDisk: number | null;
  /** Bytes of machine state (0 for a disks-only snapshot). */
  vmStateBytes: number;
  /** With a running guest: how long it was stopped (pause → resume), ms. */
  pauseMs?: number;
  /** With a running guest: the pre-copy's figures and where the pause went (`disksMs`: the disks' snapshots). */
  precopy?: PrecopyReport & PausePhases & { disksMs: number };
}

/** The snapshot named `name` (tvisor names snapshots; ids are each image's own). */
export function findSnapshot(img: Qcow2Image, name: string): Qcow2Snapshot | null {
  return img.snapshots.find((s) => s.name === name) ?? null;
}

/**
 * The writable disks a snapshot covers, which must all be qcow2: raw images have nowhere to keep a
 * snapshot, and a snapshot of some disks only would not be one instant of the machine. Read-only disks
 * cannot change, so they are left out (as QEMU's savevm does).
 */
export function snapshotTargets(
  disks: readonly SnapshotDisk[],
  images: readonly BlockBackend[],
): { index: number; img: Qcow2Image }[] {
  const out: { index: number; img: Qcow2Image }[] = [];
  for (const [i, d] of disks.entries()) {
    if (d.readOnly) continue;
    const img = images[i];
    if (!(img instanceof Qcow2Image))
      throw new UserError(
        `disk ${i} (${printable(d.path)}) is ${img?.format ?? "not open"}: snapshots need qcow2 disks (convert it with \`tvisor image convert -O qcow2\`)`,
      );
    out.push({ index: i, img });
  }
  return out;
}

/** Sequential writes into the VM-state area, in whole clusters of at least 1 MiB at a time. */
class VmStateSink implements ByteSink {
  private buf: Uint8Array;
  private used = 0;
  private pos = 0;
  constructor(private readonly img: Qcow2Image) {
    this.buf = new Uint8Array(Math.max(1 << 20, img.cs));
  }
  async write(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, this.buf.length - this.used);
      this.buf.set(data.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === this.buf.length) await this.flush();
    }
  }
  private async flush(): Promise<void> {
    await this.img.writeVmState(this.pos, this.buf.subarray(0, this.used));
    this.pos += this.used;
    this.used = 0;
  }
  /** Write what is left, padded to a whole cluster; returns the bytes of state written. */
  async finish(): Promise<number> {
    const total = this.pos + this.used;
    if (this.used > 0) {
      const padded = Math.ceil(this.used / this.img.cs) * this.img.cs;
      this.buf.fill(0, this.used, padded);
      await this.img.writeVmState(this.pos, this.buf.subarray(0, padded));
      this.pos += this.used;
      this.used = 0;
    }
    return total;
  }
}

/** Sequential reads of `size` bytes from the VM-state area (a short read at the end, as a file's). */
class VmStateSource implements ByteSource {
  private pos = 0;
  constructor(
    private readonly img: Qcow2Image,
    private readonly size: number,
  ) {}
  async read(length: number): Promise<Uint8Array> {
    const n = Math.max(0, Math.min(length, this.size - this.pos));
    const out = new Uint8Array(n);
    if (n > 0) await this.img.readVmState(this.pos, out);
    this.pos += n;
    return out;
  }
}

/**
 * Take snapshot `name` of a VM's writable disks, and with `vm` its machine state too. `vm` must be paused
 * (stop() and run() returned), unless `guest` is given: then it runs, and its RAM is written while it
 * runs (vm-state-precopy.ts); `guest` pauses it for the rest (the last dirty pages, CPU and devices,
 * the disks' snapshots, all at one instant) and resumes it. `images` are the VM's open images in spec
 * order. On failure every snapshot taken so far is deleted again and the state area dropped: all disks
 * get the snapshot or none does, and no table lists a half-written one.
 */
export async function createVmSnapshot(
  vm: VirtualMachine | null,
  disks: readonly SnapshotDisk[],
  images: readonly BlockBackend[],
  name: string,
  now = new Date(),
  guest?: GuestControl,
): Promise<VmSnapshotResult> {
  const targets = snapshotTargets(disks, images);
  if (targets.length === 0)
    throw new UserError(
      vm
        ? "the VM has no writable qcow2 disk to hold the machine state (use `tvisor save` for a state file)"
        : "the VM has no writable disk to snapshot",
    );
  for (const t of targets)
    if (findSnapshot(t.img, name))
      throw new UserError(`disk ${t.index} (${printable(t.img.path)}) already has a snapshot '${name}'`);
  const state = targets[0].img;
  // State left in the active view by a process killed mid-snapshot belongs to no snapshot: reclaim it
  // first, so the new snapshot's L1 copy does not keep it.
  if (vm) await state.dropActiveVmState();
  let vmStateBytes = 0;
  const done: Qcow2Image[] = [];
  const sink = new VmStateSink(state);
  const pre = vm && guest ? new PrecopyState(vm, sink) : null;
  let paused = false;
  let tPause = 0;
  let pauseMs: number | undefined;
  let disksMs = 0;
  const resume = () => {
    if (!paused) return;
    paused = false;
    guest!.resume();
    pauseMs = performance.now() - tPause;
  };
  try {
    if (pre) {
      await pre.run({
        pause: async () => {
          tPause = performance.now();
          await guest!.pause();
          paused = true;
        },
        resume: () => guest!.resume(),
      });
      await pre.finish();
      vmStateBytes = await sink.finish();
    } else if (vm) {
      await writeVmState(vm, sink);
      vmStateBytes = await sink.finish();
    }
    const td = performance.now();
    for (const t of targets) {
      await createSnapshot(t.img, name, {
        now,
        vmStateSize: t.img === state ? vmStateBytes : 0,
        sync: pre === null,
      });
      done.push(t.img);
    }
    disksMs = performance.now() - td;
  } catch (e) {
    pre?.abort();
    resume();
    for (const img of done) {
      const s = findSnapshot(img, name);
      if (s) await deleteSnapshot(img, s.id).catch(() => {});
    }
    if (vm) await state.dropActiveVmState().catch(() => {});
    throw e;
  }
  // The guest goes on; the snapshots reach stable storage after it did (flush syncs each image).
  resume();
  if (vm) await state.dropActiveVmState();
  if (pre) for (const t of targets) await t.img.flush();
  return {
    disks: targets.map((t) => t.index),
    stateDisk: vm ? targets[0].index : null,
    vmStateBytes,
    ...(pauseMs === undefined ? {} : { pauseMs }),
    ...(pre ? { precopy: { ...pre.report, ...pre.phases, disksMs } } : {}),
  };
}

/** Delete snapshot `name` from every disk that has it, freeing what only it referenced. */
export async function deleteVmSnapshot(
  disks: readonly SnapshotDisk[],
  images: readonly BlockBackend[],
  name: string,
): Promise<void> {
  for (const t of snapshotTargets(disks, images)) {
    const s = findSnapshot(t.img, name);
    if (s) await deleteSnapshot(t.img, s.id);
  }
}

/**
 * Revert every writable disk to snapshot `name` (each must have it; checked on all before any changes).
 * Returns the snapshot's VM-state size on the first writable disk (0: disks only).
 */
export async function revertVmDisks(
  disks: readonly SnapshotDisk[],
  images: readonly BlockBackend[],
  name: string,
): Promise<number> {
  const targets = snapshotTargets(disks, images);
  if (targets.length === 0) throw new UserError("the VM has no writable disk to revert");
  for (const t of targets)
    if (!findSnapshot(t.img, name))
      throw new UserError(`disk ${t.index} (${printable(t.img.path)}) has no snapshot '${name}'`);
  for (const t of targets) await applySnapshot(t.img, findSnapshot(t.img, name)!.id);
  return findSnapshot(targets[0].img, name)!.vmStateSize;
}

/**
 * Restore the machine state of snapshot `name` from `stateImg` (whose disks were just reverted, so the
 * state sits in its active VM-state area): a new VM, paused, built by `host` as for a state file.
 */
export async function restoreVmFromSnapshot(
  stateImg: Qcow2Image,
  name: string,
  host: VmHost,
  opts: RestoreOptions,
): Promise<VirtualMachine> {
  const s = findSnapshot(stateImg, name);
  if (!s || s.vmStateSize === 0) throw new UserError(`snapshot '${name}' holds no machine state`);
  return restoreVmFromSource(new VmStateSource(stateImg, s.vmStateSize), host, opts, false);
}
