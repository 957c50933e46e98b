/**
 * Hostile-guest MMIO fuzz on the real riscv-virt board: every device region is hammered through the
 * PhysicalBus with random offsets, sizes and values, and the virtio-mmio slots additionally get queue
 * setups at RAM edges and outside RAM and random descriptor rings. Nothing may throw (synchronously or
 * from an async block completion), RAM outside the areas the guest handed to devices must stay intact,
 * and the machine must still save and restore. Seeds are fixed, so every failure replays.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { prng } from "../../src/base/testing.js";
import { TWO_POW_32 } from "../../src/base/u64.js";
import { VirtioBlock } from "../../src/devices/virtio/block.js";
import { VirtioConsole } from "../../src/devices/virtio/console.js";
import * as C from "../../src/devices/virtio/constants.js";
import type { VirtioMmioTransport } from "../../src/devices/virtio/mmio-transport.js";
import { VirtioRng } from "../../src/devices/virtio/rng.js";
import type { CharBackend } from "../../src/io/char-backend.js";
import type { Clock } from "../../src/io/clock.js";
import { MemDisk } from "../../src/io/testing.js";
import { RiscvVirt } from "../../src/machine/riscv-virt.js";
import {
  VIRT_CLINT_BASE,
  VIRT_CLINT_SIZE,
  VIRT_MROM_BASE,
  VIRT_MROM_SIZE,
  VIRT_PLIC_BASE,
  VIRT_RTC_BASE,
  VIRT_RTC_SIZE,
  VIRT_TEST_BASE,
  VIRT_TEST_SIZE,
  VIRT_UART0_BASE,
  VIRT_UART0_SIZE,
  VIRT_VIRTIO_COUNT,
  VIRT_VIRTIO_SIZE,
  virtioSlotBase,
  virtPlicSize,
} from "../../src/machine/virt-memory-map.js";
import type { AccessSize } from "../../src/memory/mmio.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const RAM_SIZE = 4 * MiB;
const RAM_BASE = 0x80000000;
const RAM_END = RAM_BASE + RAM_SIZE;
/** Where the guest may legitimately let devices write: RAM's first and last 64 KiB (rings at the edges) and a work zone. */
const EDGE = 64 * KiB;
const ZONE = RAM_BASE + MiB;
const ZONE_SIZE = MiB;

const clock: Clock = { nowNs: () => performance.now() * 1e6, wallNs: () => Date.now() * 1e6 };
const nullChar = (): CharBackend => ({ write: () => {}, onInput: () => {} });

/** The board with a disk, an rng and a console in virtio slots 0..2; slots 3..7 stay empty. */
function board(harts: number) {
  const stats = { entropyCalls: 0, diskOps: 0 };
  const disk = new MemDisk(256 * KiB);
  const read = disk.read.bind(disk);
  disk.read = (offset, buf) => {
    stats.diskOps++;
    return read(offset, buf);
  };
  const blk = new VirtioBlock({ backend: disk, serial: "fuzz" });
  const rng = new VirtioRng({ entropy: (b) => b.fill(stats.entropyCalls++ & 0xff) });
  const con = new VirtioConsole({ char: nullChar() });
  const logs: string[] = [];
  const m = new RiscvVirt({
    ramBytes: RAM_SIZE,
    harts,
    firmware: "builtin",
    clock,
    console: nullChar(),
    virtio: [blk, rng, con],
    log: (s) => logs.push(s),
  });
  return { m, blk, logs, stats };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

interface Region {
  name: string;
  base: number;
  size: number;
}

function regions(harts: number): Region[] {
  const r: Region[] = [
    { name: "mrom", base: VIRT_MROM_BASE, size: VIRT_MROM_SIZE },
    { name: "test", base: VIRT_TEST_BASE, size: VIRT_TEST_SIZE },
    { name: "rtc", base: VIRT_RTC_BASE, size: VIRT_RTC_SIZE },
    { name: "clint", base: VIRT_CLINT_BASE, size: VIRT_CLINT_SIZE },
    { name: "plic", base: VIRT_PLIC_BASE, size: virtPlicSize(harts) },
    { name: "uart", base: VIRT_UART0_BASE, size: VIRT_UART0_SIZE },
  ];
  for (let i = 0; i < VIRT_VIRTIO_COUNT; i++) {
    r.push({ name: `virtio${i}`, base: virtioSlotBase(i), size: VIRT_VIRTIO_SIZE });
  }
  return r;
}

/** RAM offsets a device may write for this guest: the edges and the work zone. Everything else must stay put. */
function protectedRanges(): Array<[number, number]> {
  return [
    [EDGE, ZONE - RAM_BASE],
    [ZONE - RAM_BASE + ZONE_SIZE, RAM_SIZE - EDGE],
  ];
}

function fillPattern(ram: Uint8Array): void {
  for (const [a, b] of protectedRanges()) for (let i = a; i < b; i++) ram[i] = (i * 31 + 7) & 0xff;
}

function assertPattern(ram: Uint8Array, what: string): void {
  for (const [a, b] of protectedRanges()) {
    for (let i = a; i < b; i++) {
      if (ram[i] !== ((i * 31 + 7) & 0xff))
        assert.fail(`${what}: RAM 0x${(RAM_BASE + i).toString(16)} changed`);
    }
  }
}

/** Ring addresses a hostile driver might choose: in the zone, flush against either end of RAM, or just outside. */
function ringAddr(next: () => number, bytes: number, align: number): number {
  const choices = [
    () => ZONE + (next() % (ZONE_SIZE - 64 * KiB)),
    () => RAM_BASE,
    () => RAM_END - bytes,
    () => RAM_END - bytes + align, // straddles the end of RAM
    () => RAM_END,
    () => RAM_BASE - align,
    () => RAM_BASE + TWO_POW_32, // the right low half with a high half set
    () => 0,
    () => 0xffff_fff0 * TWO_POW_32, // far beyond any double-precise address
    () => next() * TWO_POW_32 + next(),
  ];
  const a = choices[next() % choices.length]();
  // Mostly aligned; sometimes deliberately not.
  return next() % 8 === 0 ? a + 1 : a - (a % align);
}

/** Descriptor buffer addresses: inside the work zone, or hostile (outside RAM, overflowing, wrapping). */
function bufferAddr(next: () => number): [number, number] {
  switch (next() % 6) {
    case 0:
      return [RAM_END - 8, 64]; // crosses the end of RAM
    case 1:
      return [next() * TWO_POW_32 + next(), next()];
    case 2:
      return [0xffff_ffff * TWO_POW_32 + 0xffff_ff00, 0x200]; // wraps 2^64
    default: {
      const len = next() % 4096;
      return [ZONE + (next() % (ZONE_SIZE - len)), len];
    }
  }
}

function writeDesc(
  ram: Uint8Array,
  table: number,
  i: number,
  next: () => number,
  size: number,
  chaos = true,
): void {
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const o = table - RAM_BASE + 16 * i;
  if (!chaos) {
    // Well formed: a zone buffer, device-writable, chained to the next entry or ending here.
    const len = next() % 2 === 0 ? 512 * (1 + (next() % 4)) : 1 + (next() % 2048);
    const last = i === size - 1 || next() % 3 === 0;
    dv.setUint32(o, ZONE + 128 * KiB + (next() % (ZONE_SIZE - 132 * KiB)), true);
    dv.setUint32(o + 4, 0, true);
    dv.setUint32(o + 8, len, true);
    dv.setUint16(o + 12, C.VIRTQ_DESC_F_WRITE | (last ? 0 : C.VIRTQ_DESC_F_NEXT), true);
    dv.setUint16(o + 14, last ? 0 : i + 1, true);
    return;
  }
  const [addr, len] = bufferAddr(next);
  dv.setUint32(o, addr % TWO_POW_32, true);
  dv.setUint32(o + 4, Math.floor(addr / TWO_POW_32) >>> 0, true);
  // Sometimes a length no RAM buffer can have (at least the whole of RAM), so it must be refused.
  dv.setUint32(o + 8, next() % 8 === 0 ? RAM_SIZE + (next() % (0xffffffff - RAM_SIZE)) : len, true);
  let flags = next() & 7;
  if (next() % 4 !== 0) flags &= ~C.VIRTQ_DESC_F_INDIRECT;
  dv.setUint16(o + 12, flags, true);
  dv.setUint16(o + 14, next() % 8 === 0 ? next() & 0xffff : next() % Math.max(1, size), true);
}

/** A driver that does the §3.1.1 dance with random deviations, then sets up queues wherever it likes. */
function hostileVirtioSession(m: RiscvVirt, slot: number, next: () => number): void {
  const base = virtioSlotBase(slot);
  const w = (off: number, v: number) => m.bus.write(base + off, 4, v >>> 0);
  const r = (off: number) => m.bus.read(base + off, 4);
  const ram = m.ram.u8;
  // Half the sessions are a well-behaved driver with a few mistakes, so devices get to do real work.
  const chaos = next() % 2 === 0;
  const odd = (k: number) => chaos && next() % k === 0;
  if (!chaos || next() % 3 === 0) w(C.VIRTIO_MMIO_STATUS, 0);
  w(C.VIRTIO_MMIO_STATUS, C.VIRTIO_STATUS_ACKNOWLEDGE | C.VIRTIO_STATUS_DRIVER);
  for (let bank = 0; bank < 3; bank++) {
    w(C.VIRTIO_MMIO_DEVICE_FEATURES_SEL, bank);
    const offered = r(C.VIRTIO_MMIO_DEVICE_FEATURES);
    w(C.VIRTIO_MMIO_DRIVER_FEATURES_SEL, bank);
    w(
      C.VIRTIO_MMIO_DRIVER_FEATURES,
      !chaos ? offered : next() % 5 === 0 ? next() : offered & (next() | next()),
    );
  }
  const s = C.VIRTIO_STATUS_ACKNOWLEDGE | C.VIRTIO_STATUS_DRIVER | C.VIRTIO_STATUS_FEATURES_OK;
  w(C.VIRTIO_MMIO_STATUS, s);
  const queues = 1 + (next() % 3);
  for (let qi = 0; qi < queues; qi++) {
    w(C.VIRTIO_MMIO_QUEUE_SEL, odd(4) ? next() : qi);
    const max = r(C.VIRTIO_MMIO_QUEUE_NUM_MAX);
    const size = odd(4) ? next() & 0x1ffff : Math.min(1 << (next() % 9), max || 1);
    w(C.VIRTIO_MMIO_QUEUE_NUM, size);
    const n = Math.max(1, Math.min(size, max || 1));
    // Sane rings sit in the zone's first 128 KiB, 4 KiB apart per slot, queue and area; chaotic ones anywhere.
    const sane = (k: number) => ZONE + (slot * 9 + qi * 3 + k) * 4 * KiB;
    const desc = chaos ? ringAddr(next, 16 * n, 16) : sane(0);
    const avail = chaos ? ringAddr(next, 6 + 2 * n, 2) : sane(1);
    const used = chaos ? ringAddr(next, 6 + 8 * n, 4) : sane(2);
    w(C.VIRTIO_MMIO_QUEUE_DESC_LOW, desc % TWO_POW_32);
    w(C.VIRTIO_MMIO_QUEUE_DESC_HIGH, Math.floor(desc / TWO_POW_32));
    w(C.VIRTIO_MMIO_QUEUE_DRIVER_LOW, avail % TWO_POW_32);
    w(C.VIRTIO_MMIO_QUEUE_DRIVER_HIGH, Math.floor(avail / TWO_POW_32));
    w(C.VIRTIO_MMIO_QUEUE_DEVICE_LOW, used % TWO_POW_32);
    w(C.VIRTIO_MMIO_QUEUE_DEVICE_HIGH, Math.floor(used / TWO_POW_32));
    w(C.VIRTIO_MMIO_QUEUE_READY, 1);
    // Random descriptors and available ring, wherever the rings landed in RAM (only edges and zone are used).
    if (m.ram.contains(desc, 16 * n)) {
      for (let i = 0; i < n; i++) writeDesc(ram, desc, i, next, n, chaos || next() % 16 === 0);
      if (slot === 0 && !chaos && n > 1) {
        // virtio-blk: descriptor 0 is a readable request header (§5.2.6) of a random type and sector.
        const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
        const hdr = ZONE + 128 * KiB + 16 * (next() % 4096);
        const types = [0, 1, 4, 8, 11, 13, 99];
        dv.setUint32(hdr - RAM_BASE, types[next() % types.length], true);
        dv.setUint32(hdr - RAM_BASE + 8, next() % 8 === 0 ? next() : next() % 600, true);
        dv.setUint32(hdr - RAM_BASE + 12, next() % 16 === 0 ? next() : 0, true);
        dv.setUint32(desc - RAM_BASE, hdr, true);
        dv.setUint32(desc - RAM_BASE + 4, 0, true);
        dv.setUint32(desc - RAM_BASE + 8, 16, true);
        dv.setUint16(desc - RAM_BASE + 12, C.VIRTQ_DESC_F_NEXT, true);
        dv.setUint16(desc - RAM_BASE + 14, 1, true);
        if (n > 2 && next() % 2 === 0) {
          // Usually a well-formed data buffer plus a status byte; otherwise whatever followed.
          writeDesc(ram, desc, 1, next, 3, false);
          dv.setUint32(desc - RAM_BASE + 16 + 8, 512 * (1 + (next() % 8)), true);
          dv.setUint16(desc - RAM_BASE + 16 + 12, C.VIRTQ_DESC_F_WRITE | C.VIRTQ_DESC_F_NEXT, true);
          dv.setUint16(desc - RAM_BASE + 16 + 14, 2, true);
          writeDesc(ram, desc, 2, next, 3, false);
          dv.setUint32(desc - RAM_BASE + 32 + 8, 1, true);
          dv.setUint16(desc - RAM_BASE + 32 + 12, C.VIRTQ_DESC_F_WRITE, true);
        }
      }
    }
    if (m.ram.contains(avail, 6 + 2 * n)) {
      const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
      const idx = dv.getUint16(avail - RAM_BASE + 2, true);
      dv.setUint16(avail - RAM_BASE, next() & 1, true);
      for (let i = 0; i < n; i++)
        dv.setUint16(avail - RAM_BASE + 4 + 2 * i, odd(2) ? next() % (n + 2) : 0, true);
      // A sane driver just reset the queue, so the device's next index is 0.
      dv.setUint16(
        avail - RAM_BASE + 2,
        odd(4) ? next() & 0xffff : chaos ? (idx + 1 + (next() % n)) & 0xffff : 1 + (next() % n),
        true,
      );
    }
  }
  // Indirect tables full of junk in the zone, for descriptors that point at them.
  for (let i = 0; i < 8; i++) writeDesc(ram, ZONE + 128 * KiB + 16 * (next() % 4096), 0, next, 16);
  w(C.VIRTIO_MMIO_STATUS, odd(6) ? next() & 0xff : s | C.VIRTIO_STATUS_DRIVER_OK);
  for (let i = 0; i < 4; i++) w(C.VIRTIO_MMIO_QUEUE_NOTIFY, odd(4) ? next() : next() % 3);
  w(C.VIRTIO_MMIO_INTERRUPT_ACK, r(C.VIRTIO_MMIO_INTERRUPT_STATUS));
}

const SIZES: AccessSize[] = [1, 2, 4];

/** Random pokes at every region, including offsets past its end and accesses straddling it. */
function randomAccess(m: RiscvVirt, rs: Region[], next: () => number): void {
  const reg = rs[next() % rs.length];
  const size = SIZES[next() % 3];
  let off: number;
  switch (next() % 4) {
    case 0:
      off = reg.size - 1 - (next() % 8); // near the end, possibly straddling it
      break;
    case 1:
      off = (next() % 64) * 4; // the register block at the start
      break;
    default:
      off = next() % reg.size;
  }
  const value = next() % 4 === 0 ? [0, 0xffffffff, 0x80000000, 1][next() % 4] : next();
  // The SiFive test device powers off; keep the fuzz running but still send it values it ignores.
  if (reg.name === "test" && off < 4) return void m.bus.read(reg.base + off, size);
  if (next() & 1) m.bus.write(reg.base + off, size, value);
  else {
    const v = m.bus.read(reg.base + off, size);
    assert.ok(
      Number.isInteger(v) && v >= -1 && v <= 0xffffffff,
      `${reg.name}+0x${off.toString(16)} read ${v}`,
    );
  }
}

function failures(): { errors: unknown[]; stop: () => void } {
  const errors: unknown[] = [];
  const onErr = (e: unknown) => errors.push(e);
  process.on("unhandledRejection", onErr);
  process.on("uncaughtException", onErr);
  return {
    errors,
    stop: () => {
      process.off("unhandledRejection", onErr);
      process.off("uncaughtException", onErr);
    },
  };
}

for (const seed of [0x5eed, 0xbad, 0xc0ffee]) {
  test(`mmio fuzz seed 0x${seed.toString(16)}: no throw, protected RAM intact, save/restore works`, async (t) => {
    const harts = 1 + (seed % 3);
    const { m, blk, logs, stats } = board(harts);
    const rs = regions(harts);
    const next = prng(seed);
    fillPattern(m.ram.u8);
    const watch = failures();
    try {
      for (let round = 0; round < 600; round++) {
        for (let i = 0; i < 60; i++) randomAccess(m, rs, next);
        hostileVirtioSession(m, next() % 3, next);
        // Let block completions land between bursts, so resets race with in-flight requests.
        if (round % 3 === 0) await tick();
      }
      await blk.drain();
      await tick();
    } finally {
      watch.stop();
    }
    assert.deepEqual(watch.errors, []);
    // The fuzz must reach both outcomes: chains the devices used, and drivers they refused.
    assert.ok(stats.entropyCalls > 0, "virtio-rng never filled a buffer");
    assert.ok(logs.length > 10, `only ${logs.length} device errors`);
    assert.ok(stats.diskOps > 0, "virtio-blk never read the disk");
    t.diagnostic(
      `seed 0x${seed.toString(16)}: ${stats.entropyCalls} rng fills, ${stats.diskOps} disk reads, ${logs.length} refusals, e.g. ${[...new Set(logs.map((l) => l.replace(/0x[0-9a-f]+|\d+/g, "N")))].slice(0, 12).join(" | ")}`,
    );
    assertPattern(m.ram.u8, `seed 0x${seed.toString(16)}`);
    // Unmapped virtio slots fault instead of reading device state.
    assert.equal(m.bus.read(virtioSlotBase(5), 4), -1);
    assert.equal(m.bus.write(virtioSlotBase(7) + 0x70, 4, 0), false);
    for (const t of m.transports) assert.equal(t.read(C.VIRTIO_MMIO_MAGIC_VALUE, 4), C.VIRTIO_MMIO_MAGIC);

    const snap = m.save();
    const again = board(harts).m;
    assert.notDeepEqual(again.save().virtio, snap.virtio, "the target starts in a different state");
    again.restore(snap);
    assert.deepEqual(again.ram.u8, m.ram.u8);
    assert.deepEqual(again.save().virtio, snap.virtio);
    // A reset brings every transport back to a clean, usable state.
    for (const t of m.transports) {
      t.write(C.VIRTIO_MMIO_STATUS, 4, 0);
      assert.equal(t.read(C.VIRTIO_MMIO_STATUS, 4), 0);
      assert.equal(t.read(C.VIRTIO_MMIO_INTERRUPT_STATUS, 4), 0);
    }
  });
}

/** Program queue 0 of `t` with explicit ring addresses; returns whether QueueReady stuck. */
function setupQueue(
  t: VirtioMmioTransport,
  size: number,
  desc: number,
  avail: number,
  used: number,
): boolean {
  t.write(C.VIRTIO_MMIO_STATUS, 4, 0);
  t.write(C.VIRTIO_MMIO_QUEUE_SEL, 4, 0);
  t.write(C.VIRTIO_MMIO_QUEUE_NUM, 4, size);
  const set = (lo: number, v: number) => {
    t.write(lo, 4, v % TWO_POW_32);
    t.write(lo + 4, 4, Math.floor(v / TWO_POW_32));
  };
  set(C.VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
  set(C.VIRTIO_MMIO_QUEUE_DRIVER_LOW, avail);
  set(C.VIRTIO_MMIO_QUEUE_DEVICE_LOW, used);
  t.write(C.VIRTIO_MMIO_QUEUE_READY, 4, 1);
  return t.read(C.VIRTIO_MMIO_QUEUE_READY, 4) === 1;
}

test("queue rings flush against the end of RAM are accepted; one byte over, below RAM or above 4 GiB they are refused", () => {
  const { m } = board(1);
  for (const t of m.transports) {
    const n = 16;
    const top = (bytes: number, align: number) => RAM_END - bytes - ((RAM_END - bytes) % align);
    assert.equal(setupQueue(t, n, top(16 * n, 16), top(6 + 2 * n, 2), top(6 + 8 * n, 4)), true, t.name);
    assert.equal(setupQueue(t, n, RAM_BASE, RAM_BASE + 0x100, RAM_BASE + 0x200), true, t.name);
    const bad: Array<[number, number, number]> = [
      [RAM_END - 16 * n + 16, RAM_BASE + 0x100, RAM_BASE + 0x200],
      [RAM_BASE, RAM_END - 6 - 2 * n + 2, RAM_BASE + 0x200],
      [RAM_BASE, RAM_BASE + 0x100, RAM_END - 6 - 8 * n + 4],
      [RAM_BASE - 16 * n, RAM_BASE + 0x100, RAM_BASE + 0x200],
      [RAM_BASE + TWO_POW_32, RAM_BASE + 0x100, RAM_BASE + 0x200],
      [RAM_BASE, RAM_BASE + 0x100 + TWO_POW_32, RAM_BASE + 0x200],
      [RAM_BASE, RAM_BASE + 0x100, 0xffff_ffff * TWO_POW_32 + RAM_BASE],
      [RAM_BASE + 8, RAM_BASE + 0x100, RAM_BASE + 0x200],
    ];
    for (const [d, a, u] of bad) {
      assert.equal(
        setupQueue(t, n, d, a, u),
        false,
        `${t.name}: 0x${d.toString(16)} 0x${a.toString(16)} 0x${u.toString(16)}`,
      );
      assert.ok(t.read(C.VIRTIO_MMIO_STATUS, 4) & C.VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    }
    for (const size of [0, 3, 512, 0x10000, 0xffffffff]) {
      assert.equal(setupQueue(t, size, RAM_BASE, RAM_BASE + 0x100, RAM_BASE + 0x200), false, `size ${size}`);
    }
  }
});
