/** Messages between the page and the worker that runs the VM (structured-cloned; Blobs and bytes cross as they are). */

export interface DiskSource {
  /** The name the guest's disk has in the VM spec (a URL's last part or the picked file's name). */
  name: string;
  blob: Blob;
  format?: "raw" | "qcow2";
}

export interface BootImages {
  kernel: Uint8Array;
  initrd: Uint8Array;
}

export type ToWorker =
  | { t: "boot"; images: BootImages; memMiB: number; jit: "on" | "off"; disk?: DiskSource }
  | { t: "restore"; images: BootImages; state: Blob; disk?: DiskSource }
  | { t: "input"; data: Uint8Array }
  | { t: "save" };

export type FromWorker =
  | { t: "output"; data: Uint8Array }
  | { t: "status"; state: "booting" | "running" | "saving" | "stopped" | "failed"; text: string }
  | { t: "saved"; blob: Blob; bytes: number; ms: number }
  | { t: "stats"; instructions: number; sinceBootMs: number };
