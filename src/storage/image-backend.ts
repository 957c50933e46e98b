/** The richer interface every storage image implements on top of the virtio-facing BlockBackend. */
import type { BlockBackend } from "../io/block-backend.js";

/** One internal snapshot as `qemu-img snapshot -l` and `info` show it (qcow2 spec, "Snapshots"). */
export interface SnapshotInfo {
  id: string;
  name: string;
  vmStateSize: number;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: number;
  icount?: number;
  diskSize?: number;
}

/** What `tvisor image info` prints; field names follow qemu-img's JSON where they appear there. */
export interface ImageInfo {
  format: string;
  virtualSize: number;
  clusterSize?: number;
  backingFilename?: string;
  fullBackingFilename?: string;
  backingFormat?: string;
  snapshots: SnapshotInfo[];
  dirty?: boolean;
  /** qemu-img's "format-specific" data, already in its JSON shape. */
  formatSpecific?: { type: string; data: Record<string, string | number | boolean> };
}

/** Whether a range of the image holds data, reads as zeroes, or defers to the backing file. */
export type BlockStatus = { kind: "data" | "zero" | "backing"; length: number };

/** An opened image: a BlockBackend that can also describe itself. */
export interface ImageBackend extends BlockBackend {
  /** The host file path (for `info` and backing chains). */
  readonly path: string;
  info(): Promise<ImageInfo>;
  /** Describe the run starting at offset (length ≥ 1, clipped to the request and the virtual size). */
  blockStatus(offset: number, length: number): Promise<BlockStatus>;
  /** Bytes the host stores for the image file ("disk size" / "actual-size"). */
  actualSize(): Promise<number>;
  /** The opened backing image, if any. */
  readonly backing: ImageBackend | null;
  /**
   * True when the format was probed from the file's contents rather than given by the caller. Callers
   * should warn (a guest-writable disk could change what the probe sees) and record the format explicitly.
   */
  formatProbed: boolean;
}
