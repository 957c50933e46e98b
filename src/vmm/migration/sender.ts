/**
 * The source side of a live migration: pre-copy rounds while the guest runs, then stop-and-copy
 * (Clark et al., NSDI 2005; QEMU docs/devel/migration/main.rst). Round 0 sends every non-zero page; each
 * later round sends the pages the dirty log says were written meanwhile, until what is left would go out
 * within the downtime target at the bandwidth measured so far, or the rounds stop converging. Then the
 * guest pauses, its disks are drained and flushed, and the last dirty pages, the machine state and END
 * go out; after the destination's `loaded` the source sends COMMIT and, on `resumed`, the VM is the
 * destination's. A failure before COMMIT resumes the guest here.
 *
 * With copied storage the disks travel in the same rounds (as QEMU's `drive-mirror` with `sync=full`,
 * QEMU docs/interop/live-block-operations.rst): round 0 sends every chunk that holds data through the
 * whole backing chain (the copy is flattened), later rounds the chunks the dirty-range trackers saw
 * written, and the stop-and-copy the chunks written until the pause. The source's disks are only read.
 */
import type { SavedState, StateValue } from "../../base/state.js";
import { bitmapCount, bitmapHas, type PageBitmap } from "../../memory/dirty-log.js";
import { chunkMarked, markedCount } from "../../storage/dirty-ranges.js";
import type { TrackedDisk } from "../../storage/tracked-disk.js";
import { encodeState } from "../state-file/codec.js";
import { TVISOR_VERSION } from "../version.js";
import type { VirtualMachine } from "../vm.js";
import { MigrationError } from "./errors.js";
import type { MigrationLink } from "./link.js";
import {
  COPYABLE_FORMATS,
  DISK_CHUNK,
  DISK_HEADER_BYTES,
  encodeComponentFragments,
  encodeDisk,
  encodeEnd,
  encodeMessage,
  encodeRam,
  type Hello,
  type HelloDisk,
  MAX_DATA_PAGES,
  MAX_PAGE_ENTRIES,
  MIGRATION_MAGIC,
  MIGRATION_VERSION,
  MSG_COMMIT,
  MSG_HELLO,
  MSG_SYNC,
  PAGE_SIZE,
  type Reply,
} from "./protocol.js";

/** Most pre-copy rounds after the first full pass (QEMU has no fixed cap; it throttles instead). */
export const MAX_ROUNDS = 30;
/** Rounds in a row whose dirty set did not shrink before pre-copy gives up and stops the guest. */
const STALL_ROUNDS = 4;
/** Messages between yields to the event loop, so the guest keeps running during a round. */
const YIELD_EVERY = 8;

export interface MigrateOptions {
  /** The VM's name and API definition (NIC MACs explicit), sent in HELLO. */
  name: string;
  definition: unknown;
  maxDowntimeMs: number;
  maxRounds?: number;
  log?: (msg: string) => void;
  /**
   * Copy the disks along: the VM's disks as opened, in spec order, each behind its dirty-range tracker.
   * Absent: the destination opens the same paths (shared storage).
   */
  copyStorage?: readonly TrackedDisk[];
}

/** How the source process stops and continues the guest (the VM process's own pause/resume). */
export interface GuestControl {
  pause(): Promise<void>;
  resume(): void;
}

export interface MigrationReport {
  /** Pre-copy rounds including the first full pass; the stop-and-copy pass is not counted. */
  rounds: number;
  /** Bytes sent in all. */
  bytes: number;
  /** Pages sent in all (re-sent pages count each time). */
  pages: number;
  /** Pages left when the guest was stopped. */
  pagesAtStop: number;
  /** Whether the dirty set fitted the downtime target (false: rounds ran out or stalled). */
  converged: boolean;
  totalMs: number;
  /** From the guest's pause here to its resumption on the destination. */
  downtimeMs: number;
  /** Bandwidth measured during pre-copy, bytes per second. */
  bytesPerSec: number;
  /** Disk bytes sent with copied storage (ranges sent again count each time; 0 for shared storage). */
  diskBytes: number;
  /** Disk chunks (32 KiB) sent while the guest was stopped. */
  diskChunksAtStop: number;
}

/** Raised after COMMIT went out when the destination's answer never came: the VM stays paused here. */
export class MigrationOutcomeUnknown extends MigrationError {}

function yieldNow(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

async function expect(link: MigrationLink, want: Reply["t"]): Promise<void> {
  const r = await link.reply();
  if (r.t === "error") throw new MigrationError(`destination: ${r.error}`);
  if (r.t !== want) throw new MigrationError(`destination replied ${r.t}, expected ${want}`);
}

function isZeroBytes(b: Uint8Array): boolean {
  const words = new Int32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = words.length << 2; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function isZeroPage(words: Int32Array, page: number): boolean {
  const w0 = page * (PAGE_SIZE / 4);
  for (let w = w0; w < w0 + PAGE_SIZE / 4; w++) if (words[w] !== 0) return false;
  return true;
}

/** Migrate the running `vm` over `link`. On failure before COMMIT the guest runs on here and the error is rethrown. */
export async function migrateOut(
  vm: VirtualMachine,
  guest: GuestControl,
  link: MigrationLink,
  opts: MigrateOptions,
): Promise<MigrationReport> {
  const board = vm.machine;
  if (board === null) throw new MigrationError("the VM has not started");
  const ram = board.ram;
  const u8 = ram.u8;
  const words = new Int32Array(ram.buffer, ram.ramOffset, ram.size / 4);
  const pageCount = ram.size / PAGE_SIZE;
  const maxRounds = opts.maxRounds ?? MAX_ROUNDS;
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  let pagesSent = 0;
  let ramMessages = 0;
  let paused = false;
  let committed = false;

  /** Send the pages set in `bits` (all pages when null, zero ones skipped: the destination starts zeroed). */
  const sendPages = async (bits: PageBitmap | null): Promise<void> => {
    let pages: number[] = [];
    let zero: boolean[] = [];
    let data = 0;
    const flush = async () => {
      if (pages.length === 0) return;
      await link.send(encodeRam(u8, pages, zero));
      ramMessages++;
      pagesSent += pages.length;
      pages = [];
      zero = [];
      data = 0;
      if (!paused && ramMessages % YIELD_EVERY === 0) await yieldNow();
    };
    for (let p = 0; p < pageCount; p++) {
      if (bits !== null && !bitmapHas(bits, p)) continue;
      const z = isZeroPage(words, p);
      if (z && bits === null) continue;
      pages.push(p);
      zero.push(z);
      if (!z) data++;
      if (data === MAX_DATA_PAGES || pages.length === MAX_PAGE_ENTRIES) await flush();
    }
    await flush();
  };

  const copied = opts.copyStorage ?? null;
  let diskMessages = 0;
  let diskBytes = 0;
  let diskChunksAtStop = 0;
  if (copied !== null) {
    if (copied.length !== vm.spec.disks.length)
      throw new MigrationError("the VM's disks are not all tracked");
    for (const [i, d] of copied.entries())
      if (!COPYABLE_FORMATS.includes(d.format))
        throw new MigrationError(`disk ${i} is ${d.format}; --copy-storage copies raw and qcow2 disks`);
  }
  // DISK_CHUNK-aligned chunks, so a message never spans two tracker bits; 4-byte aligned for the zero check.
  const chunkBuf = new Uint8Array(DISK_CHUNK);
  const sendChunk = async (i: number, chunk: number, skipZero: boolean): Promise<void> => {
    const d = (copied as readonly TrackedDisk[])[i];
    const off = chunk * DISK_CHUNK;
    const len = Math.min(DISK_CHUNK, d.size - off);
    const buf = chunkBuf.subarray(0, len);
    await d.read(off, buf);
    const zero = isZeroBytes(buf);
    if (zero && skipZero) return;
    await link.send(encodeDisk(i, off, zero ? null : buf, len));
    diskMessages++;
    diskBytes += zero ? DISK_HEADER_BYTES : DISK_HEADER_BYTES + len;
    if (!paused && diskMessages % YIELD_EVERY === 0) await yieldNow();
  };
  /**
   * Send disk chunks: with `dirty` null, every chunk that holds data (zero chunks skipped: the
   * destination's images start empty); else the chunks set in each disk's bitmap. Returns the count.
   */
  const sendDisks = async (dirty: Uint8Array[] | null): Promise<number> => {
    if (copied === null) return 0;
    let n = 0;
    for (const [i, d] of copied.entries()) {
      const chunks = Math.ceil(d.size / DISK_CHUNK);
      if (dirty !== null) {
        for (let c = 0; c < chunks; c++)
          if (chunkMarked(dirty[i], c)) {
            await sendChunk(i, c, false);
            n++;
          }
        continue;
      }
      let last = -1;
      for (let off = 0; off < d.size; ) {
        const st = await d.flatStatus(off, d.size - off);
        const len = Math.max(1, st.length);
        if (st.kind !== "zero")
          for (let c = Math.max(last + 1, Math.floor(off / DISK_CHUNK)); c * DISK_CHUNK < off + len; c++) {
            await sendChunk(i, c, true);
            last = c;
            n++;
          }
        off += len;
      }
    }
    return n;
  };
  const harvestDisks = (): Uint8Array[] => (copied ?? []).map((d) => d.harvest());
  const stopTracking = () => {
    for (const d of copied ?? []) d.stopTracking();
  };

  const disks: HelloDisk[] = vm.spec.disks.map((d, i) => ({
    path: d.path,
    format: vm.diskBackends[i].format,
    virtualSize: vm.diskBackends[i].size,
  }));
  const hello: Hello = {
    magic: MIGRATION_MAGIC,
    version: MIGRATION_VERSION,
    tvisor: TVISOR_VERSION,
    arch: "riscv64",
    machine: "riscv-virt",
    name: opts.name,
    definition: opts.definition,
    ramBytes: ram.size,
    components: board.componentNames(),
    disks,
    ...(copied !== null ? { copyStorage: true } : {}),
  };
  let rounds = 0;
  let pagesAtStop = 0;
  let converged = false;
  let sendMs = 0;
  let tPause = 0;
  try {
    await link.send(encodeMessage(MSG_HELLO, new TextEncoder().encode(JSON.stringify(hello))));
    await expect(link, "accepted");
    ram.startDirtyLog();
    for (const d of copied ?? []) d.startTracking(DISK_CHUNK);
    let lastDirty = Number.POSITIVE_INFINITY;
    let stalled = 0;
    let bits: PageBitmap | null = null;
    let diskBits: Uint8Array[] | null = null;
    for (;;) {
      const b0 = link.bytesSent;
      const r0 = performance.now();
      await sendDisks(diskBits);
      await sendPages(bits);
      // The round counts as sent once the destination has applied it: that is the bandwidth the
      // stop-and-copy will see, and nothing stays queued in front of it.
      await link.send(encodeMessage(MSG_SYNC, new Uint8Array(0)));
      await expect(link, "synced");
      sendMs += performance.now() - r0;
      rounds++;
      const bytesPerMs = link.bytesSent / Math.max(1, sendMs);
      bits = ram.harvestDirty();
      diskBits = harvestDisks();
      const dirtyChunks = diskBits.reduce((n, b) => n + markedCount(b), 0);
      // Pages and disk chunks compete for the same link: the rest is what both still need.
      const dirty = bitmapCount(bits) + dirtyChunks * (DISK_CHUNK / PAGE_SIZE);
      const estimateMs = (dirty * (PAGE_SIZE + 4)) / bytesPerMs;
      log(
        `round ${rounds}: ${link.bytesSent - b0} bytes; ${bitmapCount(bits)} pages and ${dirtyChunks} disk chunks dirty, ~${Math.round(estimateMs)} ms at ${Math.round(bytesPerMs / 1000)} MB/s`,
      );
      if (estimateMs <= opts.maxDowntimeMs) {
        converged = true;
        break;
      }
      if (dirty >= lastDirty) stalled++;
      else stalled = 0;
      lastDirty = dirty;
      if (rounds >= maxRounds || stalled >= STALL_ROUNDS) break;
    }
    // Stop-and-copy: the guest stops, disk requests in flight land and the disks are flushed, so the
    // destination can open them; then whatever is still dirty, and the machine.
    tPause = performance.now();
    await guest.pause();
    paused = true;
    await vm.quiesce();
    const last = ram.harvestDirty();
    for (let i = 0; i < last.length; i++) bits[i] |= last[i];
    pagesAtStop = bitmapCount(bits);
    // The guest is stopped and its requests have landed: what the trackers hold now is the rest.
    const lastDisk = harvestDisks();
    for (const [i, b] of lastDisk.entries()) for (let j = 0; j < b.length; j++) b[j] |= diskBits?.[i][j] ?? 0;
    stopTracking();
    diskChunksAtStop = await sendDisks(lastDisk);
    await sendPages(bits);
    const parts = board.saveComponents() as Array<[string, SavedState]>;
    const blob = encodeState(Object.fromEntries(parts) as unknown as StateValue);
    for (const m of encodeComponentFragments(blob)) await link.send(m);
    await link.send(
      encodeEnd({ rounds, ramMessages, pages: pagesSent, componentBytes: blob.length, diskMessages }),
    );
    await expect(link, "loaded");
    committed = true;
    await link.send(encodeMessage(MSG_COMMIT, new Uint8Array(0)));
    await expect(link, "resumed");
  } catch (e) {
    ram.stopDirtyLog();
    stopTracking();
    link.close();
    if (committed) {
      throw new MigrationOutcomeUnknown(
        `the destination took the VM but did not confirm it resumed (${e instanceof Error ? e.message : String(e)}); the VM stays paused here: check the destination before resuming it`,
      );
    }
    if (paused) guest.resume();
    throw e instanceof MigrationError ? e : new MigrationError(e instanceof Error ? e.message : String(e));
  }
  ram.stopDirtyLog();
  stopTracking();
  link.close();
  const end = performance.now();
  return {
    rounds,
    bytes: link.bytesSent,
    pages: pagesSent,
    pagesAtStop,
    converged,
    totalMs: end - t0,
    downtimeMs: end - tPause,
    bytesPerSec: (link.bytesSent / Math.max(1, sendMs)) * 1000,
    diskBytes,
    diskChunksAtStop,
  };
}
