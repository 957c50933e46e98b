/** virtio-balloon tests through the MMIO transport, including a hostile driver. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GuestRam } from "../../memory/guest-ram.js";
import type { MemoryReleaser } from "../../memory/memory-releaser.js";
import { FakeIrq } from "../testing.js";
import {
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_REPORTING,
  VIRTIO_BALLOON_F_STATS_VQ,
  VIRTIO_BALLOON_S_AVAIL,
  VIRTIO_BALLOON_S_MEMFREE,
  VIRTIO_BALLOON_S_MINFLT,
  VirtioBalloon,
} from "./balloon.js";
import { VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_INT_CONFIG } from "./constants.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { TestDriver } from "./testing.js";

const BASE = 0x80000000;
const RAM = 1 << 22; // 1024 pages
const BASE_PFN = BASE / 4096;

/** A releaser that records what it was given and zeroes it, as MADV_DONTNEED makes the pages read. */
class RecordingReleaser implements MemoryReleaser {
  released: Array<[number, number]> = [];
  constructor(private readonly ram: () => GuestRam) {}
  release(view: Uint8Array): boolean {
    this.released.push([view.byteOffset - this.ram().ramOffset, view.length]);
    view.fill(0);
    return true;
  }
  shareable(): boolean {
    return true;
  }
}

function setup(accept?: (bank: number, offered: number) => number) {
  const ram = new GuestRam(BASE, RAM);
  const rel = new RecordingReleaser(() => ram);
  ram.setReleaser(rel);
  const irq = new FakeIrq();
  const b = new VirtioBalloon();
  const t = new VirtioMmioTransport({ device: b, ram, irq });
  const d = new TestDriver(t, ram);
  // Keep the driver's rings and buffers in the first 64 KiB; the tests inflate pages above it.
  assert.equal(d.init({ accept }), true);
  return { ram, rel, irq, b, t, d };
}

function pfnBuf(pfns: number[]): Uint8Array {
  const a = new Uint8Array(4 * pfns.length);
  const v = new DataView(a.buffer);
  pfns.forEach((p, i) => {
    v.setUint32(4 * i, p >>> 0, true);
  });
  return a;
}

function statsBuf(entries: Array<[number, bigint]>): Uint8Array {
  const a = new Uint8Array(10 * entries.length);
  const v = new DataView(a.buffer);
  entries.forEach(([tag, val], i) => {
    v.setUint16(10 * i, tag, true);
    v.setBigUint64(10 * i + 2, val, true);
  });
  return a;
}

const cfg = (d: TestDriver, off: number) => d.reg(VIRTIO_MMIO_CONFIG + off);

test("device id 5 offers statistics, deflate-on-OOM and free page reporting, with four queues", () => {
  const { d } = setup();
  assert.equal(d.reg(0x008), 5);
  d.setReg(0x014, 0);
  const f = d.reg(0x010);
  assert.ok(f & (1 << VIRTIO_BALLOON_F_STATS_VQ));
  assert.ok(f & (1 << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
  assert.ok(f & (1 << VIRTIO_BALLOON_F_REPORTING));
  assert.equal(f & 1, 0, "no MUST_TELL_HOST");
  assert.equal(d.queues.length, 4);
});

test("a new target is in num_pages with a config interrupt; the driver's actual is read back", () => {
  const { d, b, irq } = setup();
  d.ack();
  b.setTarget(100);
  assert.equal(cfg(d, 0), 100);
  assert.ok(irq.level);
  assert.equal(d.ack() & VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_CONFIG);
  d.setReg(VIRTIO_MMIO_CONFIG + 4, 42);
  assert.equal(cfg(d, 4), 42);
  assert.equal(b.counters.actualPages, 42);
  // Writes to num_pages are the device's; ignored.
  d.setReg(VIRTIO_MMIO_CONFIG, 7);
  assert.equal(cfg(d, 0), 100);
  // Clamped to RAM.
  b.setTarget(1e9);
  assert.equal(cfg(d, 0), RAM / 4096);
});

test("inflate releases the pages to the host (they read as zeros); deflate takes them back", () => {
  const { d, b, ram, rel } = setup();
  ram.u8.fill(0xaa, 0x20000, 0x23000);
  const { head } = d.add(0, [{ data: pfnBuf([BASE_PFN + 0x20, BASE_PFN + 0x21, BASE_PFN + 0x22]) }]);
  d.kick(0);
  assert.deepEqual(d.takeUsed(0), [{ id: head, len: 0 }]);
  // Consecutive pages go to the host in one call.
  assert.deepEqual(rel.released, [[0x20000, 0x3000]]);
  assert.equal(ram.u8[0x20000], 0);
  assert.equal(ram.u8[0x22fff], 0);
  assert.equal(b.counters.inflatedPages, 3);
  assert.equal(b.counters.releasedBytes, 0x3000);
  d.add(1, [{ data: pfnBuf([BASE_PFN + 0x21]) }]);
  d.kick(1);
  assert.equal(d.takeUsed(1).length, 1);
  assert.equal(b.counters.inflatedPages, 2);
  assert.equal(rel.released.length, 1, "deflate costs the host nothing");
});

test("hostile inflate: PFNs outside RAM and pages given twice are counted and harm nothing", () => {
  const { d, b, rel, ram } = setup();
  ram.u8[0] = 0x55; // the first page holds the driver's rings: outside-RAM PFNs must not alias it
  const bad = [0, 1, BASE_PFN - 1, BASE_PFN + RAM / 4096, 0xffffffff];
  d.add(0, [{ data: pfnBuf([...bad, BASE_PFN + 0x30, BASE_PFN + 0x30]) }]);
  d.kick(0);
  assert.equal(d.takeUsed(0).length, 1);
  assert.equal(b.counters.badPfns, bad.length);
  assert.equal(b.counters.duplicatePfns, 1);
  assert.equal(b.counters.inflatedPages, 1);
  assert.deepEqual(rel.released, [[0x30000, 0x1000]]);
  // Deflating a page not in the balloon is counted too; the balloon stays as it was.
  d.add(1, [{ data: pfnBuf([BASE_PFN + 0x31, 0xffffffff]) }]);
  d.kick(1);
  assert.equal(b.counters.duplicatePfns, 2);
  assert.equal(b.counters.badPfns, bad.length + 1);
  assert.equal(b.counters.inflatedPages, 1);
  assert.equal(d.needsReset(), false, "the device keeps working");
  assert.equal(ram.u8[0], 0x55);
});

test("a ragged inflate buffer (not a whole number of PFNs) uses the whole PFNs only", () => {
  const { d, b } = setup();
  const buf = new Uint8Array(6);
  buf.set(pfnBuf([BASE_PFN + 0x40]));
  d.add(0, [{ data: buf }]);
  d.kick(0);
  assert.equal(b.counters.inflatedPages, 1);
});

test("free page reporting releases whole pages of each reported range and returns the chain", () => {
  const { d, b, rel } = setup();
  // The driver reports device-writable ranges (Linux: virtqueue_add_inbuf); queue 3 with STATS_VQ.
  const { head } = d.add(3, [{ writable: 0x4000 }, { writable: 0x2000 }]);
  d.kick(3);
  assert.deepEqual(d.takeUsed(3), [{ id: head, len: 0 }]);
  assert.equal(b.counters.reportedBytes, 0x6000);
  const bytes = rel.released.reduce((a, [, n]) => a + n, 0);
  assert.ok(bytes > 0 && bytes <= 0x6000);
  assert.equal(b.counters.releasedBytes, bytes);
});

test("without STATS_VQ the reporting queue is queue 2 (queues that exist are numbered consecutively)", () => {
  const { d, b } = setup((bank, f) => (bank === 0 ? f & ~(1 << VIRTIO_BALLOON_F_STATS_VQ) : f));
  d.add(2, [{ writable: 0x1000 }]);
  d.kick(2);
  assert.equal(d.takeUsed(2).length, 1);
  assert.equal(b.counters.reportedBytes, 0x1000);
  assert.equal(b.requestStats(), false, "no statistics queue");
});

test("statistics: the device keeps the buffer, returns it on request and reads the refill", () => {
  const { d, b } = setup();
  assert.equal(b.counters.statsUpdates, 0);
  const first = d.add(2, [
    {
      data: statsBuf([
        [VIRTIO_BALLOON_S_MEMFREE, 1000n * 4096n],
        [VIRTIO_BALLOON_S_MINFLT, 77n],
        [999, 5n],
      ]),
    },
  ]);
  d.kick(2);
  assert.deepEqual(d.takeUsed(2), [], "held until the host asks");
  assert.equal(b.stats?.freeMemory, 1000 * 4096);
  assert.equal(b.stats?.minorFaults, 77);
  assert.equal(b.requestStats(), true);
  assert.deepEqual(d.takeUsed(2), [{ id: first.head, len: 0 }]);
  assert.equal(b.requestStats(), false, "one outstanding request: the driver has the buffer");
  d.add(2, [{ data: statsBuf([[VIRTIO_BALLOON_S_AVAIL, 123n]]) }]);
  d.kick(2);
  assert.equal(b.stats?.availableMemory, 123);
  assert.equal(b.stats?.freeMemory, 1000 * 4096, "fields not sent keep their last value");
  assert.equal(b.counters.statsUpdates, 2);
});

test("hostile statistics: a driver that never answers leaves stale figures; a second buffer returns the first", () => {
  const { d, b } = setup();
  const first = d.add(2, [{ data: statsBuf([[VIRTIO_BALLOON_S_MEMFREE, 1n]]) }]);
  d.kick(2);
  const second = d.add(2, [{ data: statsBuf([[VIRTIO_BALLOON_S_MEMFREE, 2n]]) }]);
  d.kick(2);
  assert.deepEqual(d.takeUsed(2), [{ id: first.head, len: 0 }]);
  assert.equal(b.stats?.freeMemory, 2);
  assert.equal(b.requestStats(), true);
  assert.deepEqual(d.takeUsed(2), [{ id: second.head, len: 0 }]);
  // The driver never refills: requests fail, figures stay, nothing else is affected.
  assert.equal(b.requestStats(), false);
  assert.equal(b.stats?.freeMemory, 2);
  assert.equal(d.needsReset(), false);
});

test("reset gives the balloon's pages back to the driver but keeps the host's target", () => {
  const { d, b } = setup();
  b.setTarget(10);
  d.add(0, [{ data: pfnBuf([BASE_PFN + 0x50]) }]);
  d.kick(0);
  assert.equal(b.counters.inflatedPages, 1);
  assert.equal(d.init(), true);
  assert.equal(b.counters.inflatedPages, 0);
  assert.equal(cfg(d, 0), 10);
});

test("save/restore: target, balloon pages, counters and the held statistics buffer move", () => {
  const src = setup();
  src.b.setTarget(64);
  src.d.add(0, [{ data: pfnBuf([BASE_PFN + 0x60, BASE_PFN + 0x61, 1]) }]);
  src.d.kick(0);
  const st = src.d.add(2, [{ data: statsBuf([[VIRTIO_BALLOON_S_MEMFREE, 4096n]]) }]);
  src.d.kick(2);
  src.d.setReg(VIRTIO_MMIO_CONFIG + 4, 2);
  const saved = src.t.save();

  const dst = setup();
  assert.notDeepEqual(dst.t.save(), saved, "the target starts in a different state");
  dst.ram.setAll(src.ram.u8);
  dst.t.restore(saved);
  assert.deepEqual(dst.t.save(), saved);
  assert.deepEqual(dst.b.counters, src.b.counters);
  assert.equal(dst.b.stats?.freeMemory, 4096);
  const d = src.d.continueOn(dst.t, dst.ram);
  assert.equal(cfg(d, 0), 64);
  // The restored device still holds the statistics buffer and returns it on request.
  assert.equal(dst.b.requestStats(), true);
  assert.deepEqual(d.takeUsed(2), [{ id: st.head, len: 0 }]);
  // Inflating a page already in the restored balloon is a duplicate.
  d.add(0, [{ data: pfnBuf([BASE_PFN + 0x60]) }]);
  d.kick(0);
  assert.equal(dst.b.counters.duplicatePfns, 1);
});

test("restore refuses a balloon bitmap of the wrong size or a statistics head past the queue", () => {
  const { t, b } = setup();
  const good = b.save();
  assert.throws(() => b.restore({ ...good, inBalloon: new Uint8Array(3) }), /inBalloon/);
  assert.throws(() => b.restore({ ...good, statsHead: 5000 }), /statsHead/);
  assert.throws(() => b.restore({ ...good, targetPages: 1e9 }), /targetPages/);
  assert.deepEqual(b.save(), good);
  assert.ok(t);
});

test("without a releaser nothing is given back and pages keep their contents", () => {
  const ram = new GuestRam(BASE, RAM);
  const b = new VirtioBalloon();
  const t = new VirtioMmioTransport({ device: b, ram, irq: new FakeIrq() });
  const d = new TestDriver(t, ram);
  d.init();
  ram.u8[0x70000] = 9;
  d.add(0, [{ data: pfnBuf([BASE_PFN + 0x70]) }]);
  d.kick(0);
  assert.equal(b.counters.inflatedPages, 1);
  assert.equal(b.counters.releasedBytes, 0);
  assert.equal(ram.u8[0x70000], 9);
});
