/**
 * The virtio memory balloon (VIRTIO 1.2 §5.5): the host asks the guest to give pages back (inflate) or
 * lets it take them again (deflate), collects the guest's memory statistics, and takes free pages the
 * guest reports on its own (free page reporting).
 */
/*
 * Usage: const b = new VirtioBalloon();  b.setTarget(pages);  b.requestStats();  b.stats
 * Pages the guest gives up are handed to GuestRam.discard, which returns them to the host when the
 * embedder gave it a MemoryReleaser (madvise(MADV_DONTNEED) on Linux). The device itself never touches
 * a host API.
 *
 * The driver is hostile: every PFN is bounds-checked against RAM, a page inflated twice or deflated
 * while not in the balloon is counted and otherwise ignored, and a driver that never answers a
 * statistics request or never reaches the target only leaves its own VM with stale figures and the
 * memory it already holds. Nothing the driver does can reach memory outside its RAM.
 */
import { type SavedState, StateReader } from "../../base/state.js";
import type { AccessSize } from "../../memory/mmio.js";
import { VIRTIO_ID_BALLOON } from "./constants.js";
import { readConfigBytes, type VirtioDevice, type VirtioHost } from "./device.js";
import type { DescriptorChain } from "./queue.js";

// §5.5.3 Feature bits.
export const VIRTIO_BALLOON_F_MUST_TELL_HOST = 0;
export const VIRTIO_BALLOON_F_STATS_VQ = 1;
export const VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2;
export const VIRTIO_BALLOON_F_FREE_PAGE_HINT = 3;
export const VIRTIO_BALLOON_F_PAGE_POISON = 4;
export const VIRTIO_BALLOON_F_REPORTING = 5;

// §5.5.6.3 Memory statistics tags.
export const VIRTIO_BALLOON_S_SWAP_IN = 0;
export const VIRTIO_BALLOON_S_SWAP_OUT = 1;
export const VIRTIO_BALLOON_S_MAJFLT = 2;
export const VIRTIO_BALLOON_S_MINFLT = 3;
export const VIRTIO_BALLOON_S_MEMFREE = 4;
export const VIRTIO_BALLOON_S_MEMTOT = 5;
export const VIRTIO_BALLOON_S_AVAIL = 6;
export const VIRTIO_BALLOON_S_CACHES = 7;

/** §5.5.6: PFNs in the inflate and deflate queues are of 4096-byte pages whatever the guest's page size. */
export const VIRTIO_BALLOON_PFN_SHIFT = 12;
const PAGE = 1 << VIRTIO_BALLOON_PFN_SHIFT;
/** §5.5.6.3: one statistic is a le16 tag followed by a le64 value, packed. */
const STAT_BYTES = 10;
/** Statistics read from one buffer at most (the spec defines 10 tags; more is a hostile driver). */
const MAX_STATS = 64;

/** The guest's memory statistics (§5.5.6.3), in bytes for memory sizes and counts for events. */
export interface BalloonGuestStats {
  swapIn: number;
  swapOut: number;
  majorFaults: number;
  minorFaults: number;
  freeMemory: number;
  totalMemory: number;
  availableMemory: number;
  diskCaches: number;
}

const STAT_FIELDS: Array<[number, keyof BalloonGuestStats]> = [
  [VIRTIO_BALLOON_S_SWAP_IN, "swapIn"],
  [VIRTIO_BALLOON_S_SWAP_OUT, "swapOut"],
  [VIRTIO_BALLOON_S_MAJFLT, "majorFaults"],
  [VIRTIO_BALLOON_S_MINFLT, "minorFaults"],
  [VIRTIO_BALLOON_S_MEMFREE, "freeMemory"],
  [VIRTIO_BALLOON_S_MEMTOT, "totalMemory"],
  [VIRTIO_BALLOON_S_AVAIL, "availableMemory"],
  [VIRTIO_BALLOON_S_CACHES, "diskCaches"],
];

/** What the device has seen, for `tvisor stats`, inspect and /metrics. */
export interface BalloonCounters {
  /** Pages the host asks the guest to hold in the balloon (config `num_pages`). */
  targetPages: number;
  /** Pages the driver says it holds (config `actual`, written by the driver). */
  actualPages: number;
  /** Pages the device has seen inflated and not deflated. */
  inflatedPages: number;
  /** Bytes given back to the host (inflate + reporting), cumulative. */
  releasedBytes: number;
  /** Bytes of free memory the guest reported (§5.5.6.7), cumulative. */
  reportedBytes: number;
  /** Hostile or buggy driver input, ignored: PFNs outside RAM, pages inflated twice or deflated unheld. */
  badPfns: number;
  duplicatePfns: number;
  /** Statistics updates received from the guest. */
  statsUpdates: number;
}

export interface VirtioBalloonOptions {
  /** Offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM (default true): the guest may deflate under memory pressure. */
  deflateOnOom?: boolean;
  /** Offer VIRTIO_BALLOON_F_REPORTING (default true): the guest hands free memory back on its own. */
  reporting?: boolean;
  queueSize?: number;
}

type QueueRole = "inflate" | "deflate" | "stats" | "reporting";

export class VirtioBalloon implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BALLOON;
  /** inflateq, deflateq, statsq, reporting_vq; free_page_vq is not offered (§5.5.2). */
  readonly queueMaxSizes: readonly number[];
  /** §5.5.4: num_pages, actual, free_page_hint_cmd_id, poison_val. */
  readonly configSize = 16;
  private readonly deflateOnOom: boolean;
  private readonly reporting: boolean;
  private host: VirtioHost | null = null;
  private targetPages = 0;
  private actualPages = 0;
  /** One byte per 4 KiB page of RAM: 1 while the page is in the balloon. */
  private inBalloon = new Uint8Array(0);
  private inflated = 0;
  private released = 0;
  private reported = 0;
  private badPfns = 0;
  private duplicatePfns = 0;
  /** Head of the statistics buffer the device holds (§5.5.6.3), or -1 while the driver has it. */
  private statsHead = -1;
  private statsUpdates = 0;
  private guestStats: BalloonGuestStats | null = null;
  private readonly scratch = new Uint8Array(4096);

  constructor(opts: VirtioBalloonOptions = {}) {
    this.deflateOnOom = opts.deflateOnOom ?? true;
    this.reporting = opts.reporting ?? true;
    const q = opts.queueSize ?? 128;
    this.queueMaxSizes = [q, q, q, q];
  }

  deviceFeatures(bank: number): number {
    if (bank !== 0) return 0;
    // No MUST_TELL_HOST: the guest may reuse a deflated page at once (it reads as zeros or as it was).
    let f = 1 << VIRTIO_BALLOON_F_STATS_VQ;
    if (this.reporting) f |= 1 << VIRTIO_BALLOON_F_REPORTING;
    if (this.deflateOnOom) f |= 1 << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    return f;
  }

  readConfig(offset: number, size: AccessSize): number {
    const c = new Uint8Array(this.configSize);
    const v = new DataView(c.buffer);
    v.setUint32(0, this.targetPages, true);
    v.setUint32(4, this.actualPages, true);
    return readConfigBytes(c, offset, size);
  }

  /** §5.5.4: the driver writes only `actual`; any byte of it may be written on its own. */
  writeConfig(offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      if (o < 4 || o >= 8) continue;
      const shift = (o - 4) * 8;
      const byte = (value >>> (i * 8)) & 0xff;
      this.actualPages = ((this.actualPages & ~(0xff << shift)) | (byte << shift)) >>> 0;
    }
  }

  attach(host: VirtioHost): void {
    this.host = host;
    this.inBalloon = new Uint8Array(Math.floor(host.ram.size / PAGE));
  }

  activate(): void {}

  /**
   * §2.4 reset: the driver starts over, so the pages it had in the balloon are its own again (Linux
   * frees them on remove). The host's target stays: a new driver inflates to it again.
   */
  reset(): void {
    this.inBalloon.fill(0);
    this.inflated = 0;
    this.actualPages = 0;
    this.statsHead = -1;
  }

  /**
   * Ask the guest to hold `pages` 4 KiB pages in its balloon (QEMU's `balloon` command sets this as
   * RAM minus the size the guest may keep). Clamped to RAM; interrupts the driver (§5.5.6.1).
   */
  setTarget(pages: number): void {
    const t = Math.max(0, Math.min(Math.floor(pages), this.inBalloon.length));
    if (t === this.targetPages) return;
    this.targetPages = t;
    this.host?.configChanged();
  }

  get counters(): BalloonCounters {
    return {
      targetPages: this.targetPages,
      actualPages: this.actualPages,
      inflatedPages: this.inflated,
      releasedBytes: this.released,
      reportedBytes: this.reported,
      badPfns: this.badPfns,
      duplicatePfns: this.duplicatePfns,
      statsUpdates: this.statsUpdates,
    };
  }

  /** The guest's last statistics, or null before the driver sent any. */
  get stats(): BalloonGuestStats | null {
    return this.guestStats === null ? null : { ...this.guestStats };
  }

  /**
   * Ask the driver for fresh statistics (§5.5.6.3): give back the buffer it left with the device. False
   * when the device holds no buffer (the driver has not answered the last request, or negotiated no
   * statistics queue).
   */
  requestStats(): boolean {
    const host = this.host;
    if (host === null || !host.isActive()) return false;
    const index = this.indexOf("stats");
    if (index < 0) return false;
    // Linux primes the statistics queue and kicks it in probe, before DRIVER_OK, when a notify is
    // not yet served: take that first buffer now.
    if (this.statsHead < 0) this.notify(index);
    if (this.statsHead < 0) return false;
    const head = this.statsHead;
    this.statsHead = -1;
    host.queue(index).push(head, 0);
    host.usedBuffers(index);
    return true;
  }

  /**
   * §5.5.2: queues that exist are numbered consecutively; statsq exists only with STATS_VQ and
   * reporting_vq only with REPORTING (as Linux's virtio_mmio and QEMU number them).
   */
  private roleOf(index: number): QueueRole | null {
    const roles: QueueRole[] = ["inflate", "deflate"];
    const host = this.host;
    if (host?.hasFeature(VIRTIO_BALLOON_F_STATS_VQ)) roles.push("stats");
    if (host?.hasFeature(VIRTIO_BALLOON_F_REPORTING)) roles.push("reporting");
    return roles[index] ?? null;
  }

  private indexOf(role: QueueRole): number {
    for (let i = 0; i < this.queueMaxSizes.length; i++) if (this.roleOf(i) === role) return i;
    return -1;
  }

  notify(index: number): void {
    const host = this.host;
    if (host === null) return;
    const role = this.roleOf(index);
    if (role === null) return;
    const q = host.queue(index);
    let used = false;
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      if (role === "stats") {
        // The driver hands its buffer over and waits for the device to return it (§5.5.6.3). A second
        // buffer while the device holds one replaces it: the older one goes back, so none is lost.
        this.readStats(chain);
        if (this.statsHead >= 0) {
          q.push(this.statsHead, 0);
          used = true;
        }
        this.statsHead = chain.head;
        continue;
      }
      if (role === "inflate") this.pfns(chain, true);
      else if (role === "deflate") this.pfns(chain, false);
      else this.report(chain);
      q.push(chain.head, 0);
      used = true;
    }
    if (used) host.usedBuffers(index);
  }

  /** §5.5.6.1/§5.5.6.2: an array of le32 PFNs. Consecutive pages are released in one call. */
  private pfns(chain: DescriptorChain, inflate: boolean): void {
    const ram = this.host?.ram;
    if (!ram) return;
    const pages = this.inBalloon.length;
    let runStart = -1;
    let runEnd = -1;
    const flush = () => {
      if (runStart >= 0) this.released += ram.discard(ram.base + runStart * PAGE, (runEnd - runStart) * PAGE);
      runStart = -1;
    };
    const n = Math.floor(chain.readBytes / 4);
    const buf = this.scratch;
    for (let at = 0; at < n; ) {
      const k = Math.min(n - at, buf.length / 4);
      const got = chain.read(at * 4, buf.subarray(0, k * 4));
      if (got < k * 4) break;
      const v = new DataView(buf.buffer, 0, k * 4);
      for (let i = 0; i < k; i++) {
        // A PFN is guest-physical: page numbers below the RAM base or past its end are not RAM.
        const page = v.getUint32(4 * i, true) - ram.base / PAGE;
        if (page < 0 || page >= pages) {
          this.badPfns++;
          continue;
        }
        if (inflate) {
          if (this.inBalloon[page] !== 0) {
            this.duplicatePfns++;
            continue;
          }
          this.inBalloon[page] = 1;
          this.inflated++;
          if (page !== runEnd) flush();
          if (runStart < 0) runStart = page;
          runEnd = page + 1;
        } else {
          if (this.inBalloon[page] === 0) {
            this.duplicatePfns++;
            continue;
          }
          // Deflate needs no host work: the page is faulted in again (as zeros) when the guest touches it.
          this.inBalloon[page] = 0;
          this.inflated--;
        }
      }
      at += k;
    }
    flush();
  }

  /**
   * §5.5.6.7 free page reporting: each buffer of the chain is a range of free guest memory the device
   * may discard; the device returns the chain when done, and the guest may then use the pages again.
   */
  private report(chain: DescriptorChain): void {
    const ram = this.host?.ram;
    if (!ram) return;
    const parts: Array<[number[], number[]]> = [
      [chain.readAddr, chain.readLen],
      [chain.writeAddr, chain.writeLen],
    ];
    for (const [addrs, lens] of parts) {
      for (let i = 0; i < addrs.length; i++) {
        // pop() checked every buffer against RAM; discard() checks again and keeps partial pages.
        this.reported += lens[i];
        this.released += ram.discard(addrs[i], lens[i]);
      }
    }
  }

  /** §5.5.6.3: tag/value pairs; unknown tags are skipped, as the spec asks. */
  private readStats(chain: DescriptorChain): void {
    const n = Math.min(Math.floor(chain.readBytes / STAT_BYTES), MAX_STATS);
    const buf = this.scratch.subarray(0, n * STAT_BYTES);
    if (chain.read(0, buf) < buf.length) return;
    const v = new DataView(buf.buffer, buf.byteOffset, buf.length);
    const s: BalloonGuestStats = this.guestStats ?? {
      swapIn: 0,
      swapOut: 0,
      majorFaults: 0,
      minorFaults: 0,
      freeMemory: 0,
      totalMemory: 0,
      availableMemory: 0,
      diskCaches: 0,
    };
    for (let i = 0; i < n; i++) {
      const tag = v.getUint16(i * STAT_BYTES, true);
      const value = Number(v.getBigUint64(i * STAT_BYTES + 2, true));
      const field = STAT_FIELDS.find(([t]) => t === tag);
      if (field) s[field[1]] = value;
    }
    this.guestStats = s;
    this.statsUpdates++;
  }

  save(): SavedState {
    const stats = this.guestStats;
    return {
      kind: "virtio-balloon",
      version: 1,
      targetPages: this.targetPages,
      actualPages: this.actualPages,
      inBalloon: this.inBalloon.slice(),
      released: this.released,
      reported: this.reported,
      badPfns: this.badPfns,
      duplicatePfns: this.duplicatePfns,
      statsHead: this.statsHead,
      statsUpdates: this.statsUpdates,
      stats: stats === null ? null : STAT_FIELDS.map(([, k]) => stats[k]),
    };
  }

  restore(state: SavedState): void {
    const r = new StateReader(state, "virtio-balloon", "virtio-balloon", 1);
    const pages = this.inBalloon.length;
    const targetPages = r.int("targetPages", 0, pages);
    const actualPages = r.u32("actualPages");
    const inBalloon = r.typedInRange("inBalloon", Uint8Array, pages, 0, 1);
    const released = r.int("released", 0, Number.MAX_SAFE_INTEGER);
    const reported = r.int("reported", 0, Number.MAX_SAFE_INTEGER);
    const badPfns = r.int("badPfns", 0, Number.MAX_SAFE_INTEGER);
    const duplicatePfns = r.int("duplicatePfns", 0, Number.MAX_SAFE_INTEGER);
    const maxQueue = Math.max(...this.queueMaxSizes);
    const statsHead = r.int("statsHead", -1, maxQueue - 1);
    const statsUpdates = r.int("statsUpdates", 0, Number.MAX_SAFE_INTEGER);
    let stats: BalloonGuestStats | null = null;
    if (state.stats !== null) {
      const values = r.array("stats", STAT_FIELDS.length);
      const s: Partial<BalloonGuestStats> = {};
      values.forEach((v, i) => {
        if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v))
          r.fail(`stats[${i}]`, "expected a non-negative number", v);
        s[STAT_FIELDS[i][1]] = v as number;
      });
      stats = s as BalloonGuestStats;
    } else r.has("stats");
    r.done();
    this.targetPages = targetPages;
    this.actualPages = actualPages;
    this.inBalloon = inBalloon.slice();
    this.inflated = inBalloon.reduce((a, b) => a + b, 0);
    this.released = released;
    this.reported = reported;
    this.badPfns = badPfns;
    this.duplicatePfns = duplicatePfns;
    this.statsHead = statsHead;
    this.statsUpdates = statsUpdates;
    this.guestStats = stats;
  }
}
