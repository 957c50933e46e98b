/** virtio-blk tests: requests through the MMIO transport against an in-memory backend with controllable completion. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { TWO_POW_32 } from "../../base/u64.js";
import { MemDisk } from "../../io/testing.js";
import { GuestRam } from "../../memory/guest-ram.js";
import { FakeIrq } from "../testing.js";
import {
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlock,
} from "./block.js";
import * as C from "./constants.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { TestDriver } from "./testing.js";

function header(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setUint32(8, sector % TWO_POW_32, true);
  v.setUint32(12, Math.floor(sector / TWO_POW_32), true);
  return h;
}

function segment(sector: number, count: number, flags = 0): Uint8Array {
  const s = new Uint8Array(16);
  const v = new DataView(s.buffer);
  v.setUint32(0, sector, true);
  v.setUint32(8, count, true);
  v.setUint32(12, flags, true);
  return s;
}

function setup(opts: { readOnly?: boolean; size?: number } = {}) {
  const ram = new GuestRam(0x80000000, 1 << 20);
  const irq = new FakeIrq();
  const disk = new MemDisk(opts.size ?? 64 * 1024, opts.readOnly);
  for (let i = 0; i < disk.size; i++) disk.data[i] = (i * 7) & 0xff;
  const blk = new VirtioBlock({ backend: disk, serial: "tvisor-disk-0" });
  const t = new VirtioMmioTransport({ device: blk, ram, irq });
  const d = new TestDriver(t, ram);
  assert.equal(d.init(), true);
  return { ram, irq, disk, blk, t, d };
}

const tick = () => new Promise((r) => setImmediate(r));

test("config space: capacity, seg_max, blk_size, discard limits; features", () => {
  const { d, t } = setup({ size: 3 * 512 * 1024 });
  assert.equal(d.reg(C.VIRTIO_MMIO_DEVICE_ID), 2);
  assert.equal(t.read(0x100, 4), 3 * 1024);
  assert.equal(t.read(0x104, 4), 0);
  assert.equal(t.read(0x100 + 12, 4), 254);
  assert.equal(t.read(0x100 + 20, 4), 512);
  assert.equal(t.read(0x100 + 36, 4), 0x3fffff);
  assert.equal(t.read(0x100 + 40, 4), 1);
  assert.equal(t.read(0x100 + 56, 1), 1);
  d.setReg(C.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  assert.equal(d.reg(C.VIRTIO_MMIO_DEVICE_FEATURES) & (1 << VIRTIO_BLK_F_RO), 0);
});

test("T_IN reads sectors into a scattered buffer and completes asynchronously", async () => {
  const { d, irq } = setup();
  const { head, addrs } = d.add(0, [
    { data: header(VIRTIO_BLK_T_IN, 2) },
    { writable: 512 },
    { writable: 512 },
    { writable: 1 },
  ]);
  d.kick(0);
  assert.equal(d.takeUsed(0).length, 0, "not complete before the backend resolves");
  await tick();
  assert.deepEqual(d.takeUsed(0), [{ id: head, len: 1025 }]);
  assert.equal(irq.level, true);
  const got = [...d.bytes(addrs[1], 512), ...d.bytes(addrs[2], 512)];
  assert.deepEqual(
    got,
    Array.from({ length: 1024 }, (_, i) => ((1024 + i) * 7) & 0xff),
  );
  assert.equal(d.bytes(addrs[3], 1)[0], VIRTIO_BLK_S_OK);
});

test("T_OUT writes, T_FLUSH flushes, header and data may share one descriptor", async () => {
  const { d, disk } = setup();
  const req = new Uint8Array(16 + 512);
  req.set(header(VIRTIO_BLK_T_OUT, 5));
  req.fill(0x5a, 16);
  const w = d.add(0, [{ data: req }, { writable: 1 }]);
  const f = d.add(0, [{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { writable: 1 }]);
  d.kick(0);
  await tick();
  assert.deepEqual(
    d.takeUsed(0).map((u) => u.len),
    [1, 1],
  );
  assert.deepEqual([...disk.data.subarray(5 * 512, 6 * 512)], new Array(512).fill(0x5a));
  assert.equal(disk.flushes, 1);
  assert.equal(d.bytes(w.addrs[1], 1)[0], VIRTIO_BLK_S_OK);
  assert.equal(d.bytes(f.addrs[1], 1)[0], VIRTIO_BLK_S_OK);
});

test("requests complete out of order as the backend resolves them", async () => {
  const { d, disk } = setup();
  disk.hold = true;
  const a = d.add(0, [{ data: header(VIRTIO_BLK_T_IN, 0) }, { writable: 512 }, { writable: 1 }]);
  const b = d.add(0, [{ data: header(VIRTIO_BLK_T_IN, 1) }, { writable: 512 }, { writable: 1 }]);
  d.kick(0);
  await tick();
  assert.equal(disk.held.length, 2);
  disk.held[1]();
  await tick();
  assert.deepEqual(
    d.takeUsed(0).map((u) => u.id),
    [b.head],
  );
  disk.held[0]();
  await tick();
  assert.deepEqual(
    d.takeUsed(0).map((u) => u.id),
    [a.head],
  );
});

test("GET_ID returns the serial; unknown types are UNSUPP; out-of-range and misaligned IO are IOERR", async () => {
  const { d } = setup();
  const id = d.add(0, [{ data: header(VIRTIO_BLK_T_GET_ID, 0) }, { writable: 20 }, { writable: 1 }]);
  const bad = d.add(0, [{ data: header(99, 0) }, { writable: 1 }]);
  const far = d.add(0, [{ data: header(VIRTIO_BLK_T_IN, 128) }, { writable: 512 }, { writable: 1 }]);
  const huge = d.add(0, [{ data: header(VIRTIO_BLK_T_IN, 2 ** 52) }, { writable: 512 }, { writable: 1 }]);
  const odd = d.add(0, [{ data: header(VIRTIO_BLK_T_IN, 0) }, { writable: 100 }, { writable: 1 }]);
  d.kick(0);
  await tick();
  assert.equal(new TextDecoder().decode(d.bytes(id.addrs[1], 13)), "tvisor-disk-0");
  assert.equal(d.bytes(id.addrs[2], 1)[0], VIRTIO_BLK_S_OK);
  assert.equal(d.bytes(bad.addrs[1], 1)[0], VIRTIO_BLK_S_UNSUPP);
  assert.equal(d.bytes(far.addrs[2], 1)[0], VIRTIO_BLK_S_IOERR);
  assert.equal(d.bytes(huge.addrs[2], 1)[0], VIRTIO_BLK_S_IOERR);
  assert.equal(d.bytes(odd.addrs[2], 1)[0], VIRTIO_BLK_S_IOERR);
  assert.equal(d.takeUsed(0).length, 5);
  assert.equal(d.needsReset(), false);
});

test("DISCARD and WRITE_ZEROES zero the range; bad flags and segment counts are refused", async () => {
  const { d, disk } = setup();
  const dz = d.add(0, [{ data: header(VIRTIO_BLK_T_DISCARD, 0) }, { data: segment(1, 2) }, { writable: 1 }]);
  const wz = d.add(0, [
    { data: header(VIRTIO_BLK_T_WRITE_ZEROES, 0) },
    { data: segment(10, 1, 1) },
    { writable: 1 },
  ]);
  const badFlags = d.add(0, [
    { data: header(VIRTIO_BLK_T_DISCARD, 0) },
    { data: segment(20, 1, 1) },
    { writable: 1 },
  ]);
  const two = new Uint8Array(32);
  two.set(segment(30, 1));
  two.set(segment(40, 1), 16);
  const twoSegs = d.add(0, [{ data: header(VIRTIO_BLK_T_DISCARD, 0) }, { data: two }, { writable: 1 }]);
  d.kick(0);
  await tick();
  assert.equal(d.bytes(dz.addrs[2], 1)[0], VIRTIO_BLK_S_OK);
  assert.equal(d.bytes(wz.addrs[2], 1)[0], VIRTIO_BLK_S_OK);
  assert.equal(d.bytes(badFlags.addrs[2], 1)[0], VIRTIO_BLK_S_UNSUPP);
  assert.equal(d.bytes(twoSegs.addrs[2], 1)[0], VIRTIO_BLK_S_IOERR);
  assert.ok(disk.data.subarray(512, 3 * 512).every((b) => b === 0));
  assert.ok(disk.data.subarray(10 * 512, 11 * 512).every((b) => b === 0));
  assert.notEqual(disk.data[20 * 512 + 1], 0);
  assert.notEqual(disk.data[3 * 512 + 1], 0);
});

test("a read-only disk offers VIRTIO_BLK_F_RO and fails writes with IOERR", async () => {
  const { d, disk } = setup({ readOnly: true });
  d.setReg(C.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  assert.notEqual(d.reg(C.VIRTIO_MMIO_DEVICE_FEATURES) & (1 << VIRTIO_BLK_F_RO), 0);
  const before = disk.data[0];
  const req = new Uint8Array(16 + 512);
  req.set(header(VIRTIO_BLK_T_OUT, 0));
  const w = d.add(0, [{ data: req }, { writable: 1 }]);
  const z = d.add(0, [
    { data: header(VIRTIO_BLK_T_WRITE_ZEROES, 0) },
    { data: segment(0, 1) },
    { writable: 1 },
  ]);
  d.kick(0);
  await tick();
  assert.equal(d.bytes(w.addrs[1], 1)[0], VIRTIO_BLK_S_IOERR);
  assert.equal(d.bytes(z.addrs[2], 1)[0], VIRTIO_BLK_S_IOERR);
  assert.equal(disk.data[0], before);
});

test("a request without header or status breaks the device instead of throwing", () => {
  const { d } = setup();
  d.add(0, [{ data: Uint8Array.of(1, 2, 3) }, { writable: 1 }]);
  d.kick(0);
  assert.equal(d.needsReset(), true);
});

test("a header placed in a device-writable descriptor (flag misuse) breaks the device", () => {
  const { d } = setup();
  d.add(0, [{ writable: 16 }, { writable: 512 }, { writable: 1 }]);
  d.kick(0);
  assert.equal(d.needsReset(), true);
  assert.equal(d.takeUsed(0).length, 0);
});

test("a backend failure becomes IOERR", async () => {
  const { d, disk } = setup();
  disk.read = () => Promise.reject(new Error("EIO"));
  const r = d.add(0, [{ data: header(VIRTIO_BLK_T_IN, 0) }, { writable: 512 }, { writable: 1 }]);
  d.kick(0);
  await tick();
  assert.equal(d.bytes(r.addrs[2], 1)[0], VIRTIO_BLK_S_IOERR);
});

test("a reset discards completions of requests started before it", async () => {
  const { d, disk } = setup();
  disk.hold = true;
  d.add(0, [{ data: header(VIRTIO_BLK_T_IN, 0) }, { writable: 512 }, { writable: 1 }]);
  d.kick(0);
  await tick();
  assert.equal(d.init(), true);
  disk.held[0]();
  await tick();
  assert.equal(d.takeUsed(0).length, 0);
});

test("save requires a drained device and round-trips", async () => {
  const { d, disk, blk, t } = setup();
  disk.hold = true;
  d.add(0, [{ data: header(VIRTIO_BLK_T_IN, 0) }, { writable: 512 }, { writable: 1 }]);
  d.kick(0);
  assert.equal(blk.inflightCount, 1);
  assert.throws(() => t.save(), /drain/);
  const drained = blk.drain();
  disk.held[0]();
  await drained;
  assert.equal(blk.inflightCount, 0);
  const saved = t.save();
  const other = setup();
  assert.notDeepEqual(other.t.save(), saved, "the target starts in a different state");
  other.t.restore(saved);
  assert.deepEqual(other.t.save(), saved);
});

test("in-flight requests hold at most 64 MiB of host buffers; the rest wait in the ring and still complete", async () => {
  const MiB = 1 << 20;
  const ram = new GuestRam(0x80000000, 16 * MiB);
  const disk = new MemDisk(32 * MiB);
  disk.hold = true;
  const sizes: number[] = [];
  const read = disk.read.bind(disk);
  disk.read = (offset, buf) => {
    sizes.push(buf.length);
    return read(offset, buf);
  };
  const blk = new VirtioBlock({ backend: disk });
  const t = new VirtioMmioTransport({ device: blk, ram, irq: new FakeIrq() });
  const d = new TestDriver(t, ram);
  assert.equal(d.init({ queueSize: 32 }), true);
  // Each request reads 32 MiB into four 8 MiB descriptors that all alias one buffer in the upper half.
  const data = ram.base + 8 * MiB;
  const q = d.queues[0];
  const hdr = d.alloc(16);
  ram.u8.set(header(VIRTIO_BLK_T_IN, 0), hdr - ram.base);
  for (let r = 0; r < 4; r++) {
    const status = d.alloc(1);
    const first = r * 6;
    d.writeDesc(q.desc, first, hdr, 16, C.VIRTQ_DESC_F_NEXT, first + 1);
    for (let i = 1; i <= 4; i++) {
      d.writeDesc(
        q.desc,
        first + i,
        data,
        8 * MiB,
        C.VIRTQ_DESC_F_WRITE | C.VIRTQ_DESC_F_NEXT,
        first + i + 1,
      );
    }
    d.writeDesc(q.desc, first + 5, status, 1, C.VIRTQ_DESC_F_WRITE, 0);
    d.publish(0, first);
  }
  d.kick(0);
  assert.deepEqual(sizes, [32 * MiB, 32 * MiB], "two requests fill the budget; two wait");
  assert.equal(blk.inflightCount, 2);
  const completed: number[] = [];
  for (let round = 0; round < 8 && completed.length < 4; round++) {
    disk.held.shift()?.();
    await tick();
    await tick();
    completed.push(...d.takeUsed(0).map((u) => u.id));
    assert.ok(blk.inflightCount <= 2);
  }
  assert.deepEqual(completed, [0, 6, 12, 18]);
  assert.deepEqual(sizes.length, 4);
  assert.equal(d.needsReset(), false);
});

test("a completion after the driver disabled the queue writes no used ring, old or new", async () => {
  const { d, t, disk, ram, blk } = setup();
  disk.hold = true;
  d.add(0, [{ data: header(VIRTIO_BLK_T_IN, 0) }, { writable: 512 }, { writable: 1 }]);
  d.kick(0);
  assert.equal(blk.inflightCount, 1);
  const q = d.queues[0];
  // QueueReady = 0 (§4.2.2), then point the device area somewhere else and shrink the queue.
  d.setReg(C.VIRTIO_MMIO_QUEUE_SEL, 0);
  d.setReg(C.VIRTIO_MMIO_QUEUE_READY, 0);
  const elsewhere = d.alloc(4096, 4096);
  ram.u8.fill(0xa5, elsewhere - ram.base, elsewhere - ram.base + 4096);
  d.setReg(C.VIRTIO_MMIO_QUEUE_DEVICE_LOW, elsewhere);
  d.setReg(C.VIRTIO_MMIO_QUEUE_NUM, 0);
  const usedBefore = d.bytes(q.used, 6 + 8 * q.size);
  disk.held.shift()?.();
  await tick();
  await tick();
  assert.ok(d.bytes(elsewhere, 4096).every((b) => b === 0xa5));
  assert.deepEqual(d.bytes(q.used, 6 + 8 * q.size), usedBefore);
  assert.equal(blk.inflightCount, 0);
  assert.equal(t.lastError, null);
});
