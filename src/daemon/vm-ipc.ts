/** Messages between the daemon and one VM process over the fork IPC channel (advanced serialization: bytes pass as Uint8Array). */
import type { MigrateResult } from "../api/migration.js";
import type { SnapshotPrecopy } from "../api/snapshots.js";
import type { VmDefinition } from "../api/vm-spec.js";
import type { NetCounters } from "../vmm/host-contracts.js";
import type { VirtualMachine } from "../vmm/vm.js";

/** What the VM process counts for stats; the daemon adds RSS and rates. */
export interface VmCounters {
  instructions: number;
  boots: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  disk: { readBytes: number; writeBytes: number; reads: number; writes: number; flushes: number };
  net: { rxBytes: number; txBytes: number; rxFrames: number; txFrames: number };
  /** Each NIC's counters (the virtio-net device's, VirtualMachine.nicCounters), by position. */
  nics: NetCounters[];
  /** The balloon and guest memory statistics (VirtualMachine.memoryInfo), null without a balloon. */
  memory: ReturnType<VirtualMachine["memoryInfo"]>;
}

export type ToVm =
  /** Boot the definition, or with `file` restore that state file and continue it. */
  | {
      t: "start";
      def: VmDefinition;
      vmIndex: number;
      file?: string;
      incoming?: boolean;
      /** Restore the machine state of this snapshot (the disks are at it) instead of booting. */
      snapshot?: string;
    }
  /** One message of an incoming migration stream (relayed from the source's WebSocket). */
  | { t: "migIn"; data: Uint8Array }
  /** Migrate this VM to the daemon at `url` (ws://HOST:PORT/v1/migrations/incoming). */
  | {
      t: "migrate";
      id: number;
      url: string;
      token: string;
      maxDowntimeMs: number;
      def: VmDefinition;
      /** Copy the disks along (--copy-storage). */
      copyStorage?: boolean;
    }
  | { t: "input"; data: Uint8Array }
  | { t: "net"; nic: number; frame: Uint8Array }
  | { t: "powerButton" }
  | { t: "pause"; id: number }
  | { t: "resume"; id: number }
  | { t: "save"; id: number; file: string }
  /** Let the guest keep `bytes` of RAM: the balloon takes the rest. */
  | { t: "balloon"; id: number; bytes: number }
  /** Snapshot verbs on the running (or paused) VM's own open disks; see vmm/node/vm-snapshot.ts. */
  | { t: "snapshot"; id: number; op: "create" | "revert" | "delete"; name: string };

/** What a snapshot verb did in the VM process. */
export interface SnapshotReply {
  /** Spec indexes of the disks that hold the snapshot. */
  disks: number[];
  /** The disk holding the machine state, or null (disks only). */
  stateDisk: number | null;
  vmStateBytes: number;
  /** How long the guest was stopped for the verb, in ms. */
  pauseMs: number;
  /** A running VM's snapshot: the pre-copy's figures. */
  precopy?: SnapshotPrecopy;
}

export type FromVm =
  | { t: "running" }
  | { t: "console"; data: Uint8Array }
  | { t: "net"; nic: number; frame: Uint8Array }
  | { t: "stats"; counters: VmCounters }
  | {
      t: "reply";
      id: number;
      ok: true;
      result?: { bytes: number; ms: number } | Omit<MigrateResult, "to"> | SnapshotReply;
    }
  /** A reply of an incoming migration, for the source (JSON text). */
  | { t: "migReply"; text: string }
  /** Incoming migration messages consumed so far (flow control for the relay). */
  | { t: "migAck"; n: number }
  /** The incoming migration committed: the guest runs here now. */
  | { t: "migrated" }
  | { t: "reply"; id: number; ok: false; error: string }
  /** The guest ended the run: powered off, reported failure (SiFive test) or reset with noReboot. */
  | { t: "exit"; how: string }
  /** The emulator or the start failed; the process exits right after. */
  | { t: "fatal"; error: string };

/** Exit status of a VM process whose guest powered off or was stopped cleanly. */
export const VM_EXIT_CLEAN = 0;
/** Exit status after a `fatal` message. */
export const VM_EXIT_FATAL = 70;
