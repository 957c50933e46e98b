/**
 * The view of an open qcow2 image that the metadata walkers (`check.ts`, `tree-walk.ts`) work on.
 * `Qcow2Image` implements it; the walkers depend on this interface rather than on the image class, so
 * the image can call the walkers (the open-time repair of a dirty image) without an import cycle.
 */
import type { FileHandle } from "../file-handle.js";
import type { WorkMeter } from "../yield.js";
import type { Qcow2Header } from "./header.js";
import type { Refcounts } from "./refcounts.js";
import type { Qcow2Snapshot } from "./snapshot-table.js";

export interface Qcow2Metadata {
  readonly path: string;
  /** Virtual disk size in bytes. */
  readonly size: number;
  readonly readOnly: boolean;
  /** Cluster size in bytes, and its log2. */
  readonly cs: number;
  readonly clusterBits: number;
  /** Entries per L2 table (spec: cluster_size / 8). */
  readonly l2Entries: number;
  readonly file: FileHandle;
  readonly hdr: Qcow2Header;
  /** Active L1 table: L2 offsets and COPIED flags. */
  readonly l1Off: Float64Array;
  readonly l1Copied: Uint8Array;
  readonly refc: Refcounts;
  readonly snapshots: Qcow2Snapshot[];
  /** Run `fn` with no other request on the image in flight. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  readL2(off: number): Promise<Uint8Array>;
  setL1(idx: number, off: number, copied: boolean): Promise<void>;
  dropL2Cache(): void;
  readSnapshotL1(s: Qcow2Snapshot): Promise<Float64Array>;
  setIncompatBit(bit: number, on: boolean): Promise<void>;
  /** Work done by loops the file controls; they yield through it (yield.ts). */
  readonly meter: WorkMeter;
  /** Refuse (marking the image corrupt) a write of metadata kind `own` that overlaps other metadata. */
  checkWrite(own: number, offset: number, length: number): Promise<void>;
}
