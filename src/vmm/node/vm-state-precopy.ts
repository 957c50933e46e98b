/**
 * A running VM's machine state written while it runs (pre-copy), for a snapshot with a short pause: the
 * scheme of live migration (Clark et al., "Live Migration of Virtual Machines", NSDI 2005; QEMU
 * docs/devel/migration/main.rst) with the VM-state area as the destination. The dirty log goes on, every
 * non-zero 1 MiB chunk of RAM is written, then the pages written meanwhile are written again in rounds
 * until what is left is small; only then the guest stops, and the pause holds just the last dirty pages,
 * the CPU and device state and the disks' snapshots. The bytes are the state file's version 2 (format.ts):
 * RAM chunks first, a later chunk replacing an earlier one's pages, then the components.
 */
import { UserError } from "../../base/errors.js";
import { bitmapCount, type PageBitmap } from "../../memory/dirty-log.js";
import { CHUNK_PAGES, PAGE_SIZE, STATE_FILE_VERSION_PRECOPY } from "../state-file/format.js";
import { type ByteSink, type StateFileStats, StateFileWriter } from "../state-file/writer.js";
import type { VirtualMachine } from "../vm.js";
import { nodeChunkCompression, stateHeader } from "./state-file.js";

/** Pre-copy rounds at most, the first full pass included (QEMU has no cap and throttles instead). */
export const PRECOPY_MAX_ROUNDS = 8;
/** Rounds in a row whose dirty set did not shrink before pre-copy stops trying. */
const STALL_ROUNDS = 3;
/** Stop pre-copying once the estimated time to write what is dirty is below this. */
const TARGET_FINAL_MS = 30;
/** Clean pages between two dirty ones that are rewritten rather than starting a new chunk (a section costs 16 bytes and a deflate call). */
const MERGE_GAP_PAGES = 8;
/** Chunks scanned between yields to the event loop in the first pass, so the guest keeps running. */
const YIELD_EVERY_CHUNKS = 16;

/** How the snapshot stops and continues the guest (the VM process's own pause and resume). */
export interface GuestControl {
  /** Stop the guest: when it resolves, no instruction runs until resume(). */
  pause(): Promise<void>;
  resume(): void;
}

/** What the pre-copy did, for the API's answer and the benchmarks. */
export interface PrecopyReport {
  /** Passes while the guest ran, the first full pass included. */
  rounds: number;
  /** Time the guest ran while its RAM was written. */
  precopyMs: number;
  /** Pages written while the guest ran (re-written pages count each time). */
  pagesWhileRunning: number;
  /** Pages dirty when the guest stopped, written during the pause. */
  pagesAtPause: number;
}

/** Where the pause went (ms): stopping the guest, draining disk requests, last RAM, CPU and devices. */
export interface PausePhases {
  stopMs: number;
  drainMs: number;
  ramMs: number;
  devicesMs: number;
}

function yieldNow(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Ranges [first, count] covering the pages set in `bits`, merged across short clean gaps, at most CHUNK_PAGES long. */
export function dirtyRanges(bits: PageBitmap, pages: number): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  let last = -1;
  for (let w = 0; w < bits.length; w++) {
    const word = bits[w];
    if (word === 0) continue;
    for (let b = 0; b < 32; b++) {
      if ((word & (1 << b)) === 0) continue;
      const p = w * 32 + b;
      if (p >= pages) break;
      if (start >= 0 && p - last <= MERGE_GAP_PAGES + 1 && p - start < CHUNK_PAGES) {
        last = p;
        continue;
      }
      if (start >= 0) out.push([start, last - start + 1]);
      start = p;
      last = p;
    }
  }
  if (start >= 0) out.push([start, last - start + 1]);
  return out;
}

/**
 * One VM's state streamed into `sink` with pre-copy: run() writes RAM while the guest runs and returns
 * with the guest paused (through `guest`); finish() then writes the rest. On any failure call abort(),
 * which stops the dirty log (the guest is resumed by the caller).
 */
export class PrecopyState {
  private readonly writer: StateFileWriter;
  private readonly board: NonNullable<VirtualMachine["machine"]>;
  private pending: PageBitmap | null = null;
  readonly report: PrecopyReport = { rounds: 0, precopyMs: 0, pagesWhileRunning: 0, pagesAtPause: 0 };
  readonly phases: PausePhases = { stopMs: 0, drainMs: 0, ramMs: 0, devicesMs: 0 };

  constructor(
    private readonly vm: VirtualMachine,
    sink: ByteSink,
  ) {
    const board = vm.machine;
    if (board === null) throw new UserError("the VM has not started");
    // The log is one per RAM: a live migration under way owns it.
    if (board.ram.dirtyLogging) throw new UserError("the VM is being migrated: snapshot it afterwards");
    this.board = board;
    this.writer = new StateFileWriter(sink, nodeChunkCompression);
  }

  private get ram(): Uint8Array {
    return this.board.ram.u8;
  }

  /** Write the ranges; returns the pages they cover. */
  private async writeRanges(ranges: [number, number][]): Promise<number> {
    let n = 0;
    for (const [first, count] of ranges) {
      await this.writer.ramRange(this.ram, first, count, false);
      n += count;
    }
    return n;
  }

  /** Pre-copy while the guest runs, then pause it through `guest`. */
  async run(guest: GuestControl): Promise<void> {
    const t0 = performance.now();
    const ram = this.board.ram;
    const pages = ram.size / PAGE_SIZE;
    // The header's disk identities are informative here: a snapshot's state is restored with its disks
    // reverted, so they are not checked (restoreVmFromSource).
    await this.writer.begin(
      await stateHeader(this.vm, this.board.componentNames()),
      STATE_FILE_VERSION_PRECOPY,
    );
    ram.startDirtyLog();
    // Round 1: every chunk that is not all zero (the reader's RAM starts zeroed).
    const r0 = performance.now();
    for (let first = 0, k = 0; first < pages; first += CHUNK_PAGES, k++) {
      const count = Math.min(CHUNK_PAGES, pages - first);
      if ((await this.writer.ramRange(this.ram, first, count, true)) >= 0)
        this.report.pagesWhileRunning += count;
      else if (k % YIELD_EVERY_CHUNKS === 0) await yieldNow();
    }
    this.report.rounds = 1;
    let msPerPage = (performance.now() - r0) / Math.max(1, this.report.pagesWhileRunning);
    let lastDirty = Number.POSITIVE_INFINITY;
    let stalled = 0;
    for (;;) {
      const bits = ram.harvestDirty();
      const dirty = bitmapCount(bits);
      if (
        dirty * msPerPage <= TARGET_FINAL_MS ||
        this.report.rounds >= PRECOPY_MAX_ROUNDS ||
        stalled >= STALL_ROUNDS
      ) {
        // Written at the pause together with what is dirtied from now on.
        this.pending = bits;
        break;
      }
      stalled = dirty >= lastDirty ? stalled + 1 : 0;
      lastDirty = dirty;
      const r = performance.now();
      const n = await this.writeRanges(dirtyRanges(bits, pages));
      msPerPage = (performance.now() - r) / Math.max(1, n);
      this.report.pagesWhileRunning += n;
      this.report.rounds++;
    }
    this.report.precopyMs = performance.now() - t0;
    const tStop = performance.now();
    await guest.pause();
    this.phases.stopMs = performance.now() - tStop;
  }

  /**
   * With the guest paused: disk requests in flight land (their completions are guest RAM and device
   * state), then the pages still dirty, the components and END. Returns the stream's figures.
   */
  async finish(): Promise<StateFileStats> {
    if (this.vm.machine !== this.board)
      throw new UserError("the guest rebooted during the snapshot: take it again");
    let t = performance.now();
    await this.vm.quiesce(false);
    this.phases.drainMs = performance.now() - t;
    t = performance.now();
    const ram = this.board.ram;
    const last = ram.harvestDirty();
    ram.stopDirtyLog();
    const bits = this.pending ?? last;
    if (this.pending) for (let i = 0; i < bits.length; i++) bits[i] |= last[i];
    this.report.pagesAtPause = bitmapCount(bits);
    await this.writeRanges(dirtyRanges(bits, ram.size / PAGE_SIZE));
    this.phases.ramMs = performance.now() - t;
    t = performance.now();
    for (const [name, state] of this.board.saveComponents()) await this.writer.component(name, state);
    const stats = await this.writer.end();
    this.phases.devicesMs = performance.now() - t;
    return stats;
  }

  /** After a failure: the dirty log goes off (if this stream still owns it). */
  abort(): void {
    if (this.board.ram.dirtyLogging) this.board.ram.stopDirtyLog();
  }
}
