/** The host services a VM needs, injected so the VMM stays free of node:* (src/vmm/node/ provides them). */
import type { BlockBackend } from "../io/block-backend.js";
import type { CharBackend } from "../io/char-backend.js";
import type { Clock } from "../io/clock.js";
import type { NetBackend } from "../io/net-backend.js";
import type { Gunzip } from "../machine/linux-image.js";
import type { MemoryReleaser } from "../memory/memory-releaser.js";
import type { FrameCapture } from "../net/frame-capture.js";
import type { NicSpec } from "./nic-spec.js";

export interface VmHost {
  /**
   * Read a whole regular file of at most `maxBytes` bytes (devices, FIFOs and larger files are refused);
   * rejects with a UserError naming `what` and the path, and `limitReason` when the file is too large.
   */
  readFile(path: string, what: string, maxBytes: number, limitReason?: string): Promise<Uint8Array>;
  openDisk(path: string, opts: { format?: string; readOnly: boolean }): Promise<BlockBackend>;
  /**
   * Open the host side of a NIC the VM owns (every backend kind but `hub`, which is attached); the VM
   * closes it when it closes. Rejects with a UserError or a FieldError naming `nics[i]`.
   */
  openNic(nic: NicSpec, ctx: NicContext): Promise<NetBackend>;
  /** Create the capture file of a NIC's `pcap`; absent: the host cannot, and such a NIC is refused. */
  openCapture?(path: string): FrameCapture;
  gunzip: Gunzip;
  clock: Clock;
  console: CharBackend;
  /** Fill a buffer with entropy (virtio-rng, rng-seed). */
  entropy(buf: Uint8Array): void;
  log(msg: string): void;
  /**
   * Give pages of guest RAM held in `buffer` back to the host and offer them for page sharing (balloon,
   * free page reporting, KSM). Absent or null: the host cannot, and RAM stays as allocated.
   */
  memoryReleaser?(buffer: ArrayBuffer): MemoryReleaser | null;
}

/** What a NIC backend may need to know about its VM. */
export interface NicContext {
  /** The NIC's position in the spec (eth0 is 0). */
  index: number;
  /** The guest's MAC for this NIC. */
  mac: Uint8Array;
  /** The VM's name, when it has one. */
  vmName?: string;
  log(msg: string): void;
}
