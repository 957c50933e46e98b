/**
 * The source side of a live migration: pre-copy rounds while the guest runs, then stop-and-copy
 * (Clark et al., NSDI 2005; QEMU docs/devel/migration/main.rst). Round 0 sends every non-zero page; each
 * later round sends the pages the dirty log says were written meanwhile, until what is left would go out
 * within the downtime target at the bandwidth measured so far, or the rounds stop converging. Then the
 * guest pauses, its disks are drained and flushed, and the last dirty pages, the machine state and END
 * go out; after the destination's `loaded` the source sends COMMIT and, on `resumed`, the VM is the
 * destination's. A failure before COMMIT resumes the guest here.
 */
import type { SavedState, StateValue } from "../../base/state.js";
import { bitmapCount, bitmapHas, type PageBitmap } from "../../memory/dirty-log.js";
import { encodeState } from "../state-file/codec.js";
import { TVISOR_VERSION } from "../version.js";
import type { VirtualMachine } from "../vm.js";
import { MigrationError } from "./errors.js";
import type { MigrationLink } from "./link.js";
import {
  encodeComponentFragments,
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
    let lastDirty = Number.POSITIVE_INFINITY;
    let stalled = 0;
    let bits: PageBitmap | null = null;
    for (;;) {
      const b0 = link.bytesSent;
      const r0 = performance.now();
      await sendPages(bits);
      // The round counts as sent once the destination has applied it: that is the bandwidth the
      // stop-and-copy will see, and nothing stays queued in front of it.
      await link.send(encodeMessage(MSG_SYNC, new Uint8Array(0)));
      await expect(link, "synced");
      sendMs += performance.now() - r0;
      rounds++;
      const bytesPerMs = link.bytesSent / Math.max(1, sendMs);
      bits = ram.harvestDirty();
      const dirty = bitmapCount(bits);
      const estimateMs = (dirty * (PAGE_SIZE + 4)) / bytesPerMs;
      log(
        `round ${rounds}: ${link.bytesSent - b0} bytes; ${dirty} pages dirty, ~${Math.round(estimateMs)} ms at ${Math.round(bytesPerMs / 1000)} MB/s`,
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
    await sendPages(bits);
    const parts = board.saveComponents() as Array<[string, SavedState]>;
    const blob = encodeState(Object.fromEntries(parts) as unknown as StateValue);
    for (const m of encodeComponentFragments(blob)) await link.send(m);
    await link.send(encodeEnd({ rounds, ramMessages, pages: pagesSent, componentBytes: blob.length }));
    await expect(link, "loaded");
    committed = true;
    await link.send(encodeMessage(MSG_COMMIT, new Uint8Array(0)));
    await expect(link, "resumed");
  } catch (e) {
    ram.stopDirtyLog();
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
  };
}
