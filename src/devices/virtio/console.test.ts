/** virtio-console tests through the MMIO transport. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GuestRam } from "../../memory/guest-ram.js";
import { FakeChar, FakeIrq } from "../testing.js";
import { VirtioConsole } from "./console.js";
import * as C from "./constants.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { TestDriver } from "./testing.js";

function setup() {
  const ram = new GuestRam(0x80000000, 1 << 20);
  const irq = new FakeIrq();
  const char = new FakeChar();
  const con = new VirtioConsole({ char });
  const t = new VirtioMmioTransport({ device: con, ram, irq });
  const d = new TestDriver(t, ram);
  return { ram, irq, char, con, t, d };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("device id 3, two queues, 12-byte config", () => {
  const { d, t } = setup();
  assert.equal(d.init(), true);
  assert.equal(d.reg(0x008), 3);
  assert.equal(d.queues.length, 2);
  assert.equal(t.read(0x100, 4), 0);
});

test("transmitq output reaches the backend and buffers are returned", () => {
  const { d, char, irq } = setup();
  d.init();
  const a = d.add(1, [
    { data: new TextEncoder().encode("hello, ") },
    { data: new TextEncoder().encode("world\n") },
  ]);
  d.kick(1);
  assert.equal(char.text(), "hello, world\n");
  assert.deepEqual(d.takeUsed(1), [{ id: a.head, len: 0 }]);
  assert.equal(irq.level, true);
});

test("host input fills receive buffers, waits when there are none, and splits across buffers", () => {
  const { d, char } = setup();
  char.type("early"); // before the driver is up: kept
  d.init();
  const r1 = d.add(0, [{ writable: 3 }]);
  d.kick(0);
  assert.deepEqual(d.takeUsed(0), [{ id: r1.head, len: 3 }]);
  assert.equal(text(d.bytes(r1.addrs[0], 3)), "ear");
  const r2 = d.add(0, [{ writable: 16 }]);
  d.kick(0);
  assert.equal(text(d.bytes(r2.addrs[0], 2)), "ly");
  assert.equal(d.takeUsed(0)[0].len, 2);
  // With a buffer already posted, input is delivered immediately.
  const r3 = d.add(0, [{ writable: 16 }]);
  d.kick(0);
  assert.equal(d.takeUsed(0).length, 0);
  char.type("ls\n");
  assert.deepEqual(d.takeUsed(0), [{ id: r3.head, len: 3 }]);
  assert.equal(text(d.bytes(r3.addrs[0], 3)), "ls\n");
});

test("pending input survives save/restore", () => {
  const { d, char, t, ram } = setup();
  d.init();
  char.type("abc");
  const saved = t.save();
  const other = setup();
  assert.notDeepEqual(other.t.save(), saved, "the target starts in a different state");
  other.ram.setAll(ram.u8);
  other.t.restore(saved);
  const od = d.continueOn(other.t, other.ram);
  const r = od.add(0, [{ writable: 8 }]);
  od.kick(0);
  assert.equal(text(od.bytes(r.addrs[0], 3)), "abc");
});

test("a transmit chain claiming 64 MiB sends at most 1 MiB, in pieces of at most 64 KiB", () => {
  const { ram, char, d } = setup();
  const pieces: number[] = [];
  char.write = (data: Uint8Array) => {
    pieces.push(data.length);
  };
  assert.equal(d.init(), true);
  // An indirect table of 64 descriptors, each covering all of RAM (1 MiB): 64 MiB of readable bytes.
  const table = d.alloc(16 * 64, 16);
  for (let i = 0; i < 64; i++) {
    d.writeDesc(table, i, ram.base, ram.size, i < 63 ? 1 : 0, i + 1);
  }
  const q = d.queues[1];
  d.writeDesc(q.desc, 0, table, 16 * 64, 4, 0);
  d.publish(1, 0);
  d.kick(1);
  assert.deepEqual(d.takeUsed(1), [{ id: 0, len: 0 }]);
  assert.equal(
    pieces.reduce((a, b) => a + b, 0),
    1 << 20,
  );
  assert.ok(pieces.every((n) => n > 0 && n <= 64 * 1024));
  assert.equal(d.needsReset(), false);
});

test("§5.3.3: no console feature bits offered, so only receiveq (0) and transmitq (1) exist", () => {
  const { d } = setup();
  d.setReg(C.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  // VIRTIO_CONSOLE_F_SIZE (0), F_MULTIPORT (1), F_EMERG_WRITE (2).
  assert.equal(d.reg(C.VIRTIO_MMIO_DEVICE_FEATURES) & 0b111, 0);
  const numMax = (q: number) => {
    d.setReg(C.VIRTIO_MMIO_QUEUE_SEL, q);
    return d.reg(C.VIRTIO_MMIO_QUEUE_NUM_MAX);
  };
  assert.ok(numMax(0) > 0);
  assert.ok(numMax(1) > 0);
  // §4.2.2: QueueNumMax 0 means the queue is not available (no control queues without MULTIPORT).
  assert.equal(numMax(2), 0);
  assert.equal(numMax(3), 0);
});

/** `n` bytes of a recognisable pattern. */
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

/** Post `count` receive buffers of `size` bytes; returns their addresses by descriptor head. */
function postReceive(d: TestDriver, count: number, size: number): Map<number, number> {
  const byHead = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const r = d.add(0, [{ writable: size }]);
    byHead.set(r.head, r.addrs[0]);
  }
  d.kick(0);
  return byHead;
}

/** Concatenate what the device wrote into the used receive buffers, in used-ring order. */
function received(d: TestDriver, byHead: Map<number, number>): Uint8Array {
  const parts = d.takeUsed(0).map((u) => {
    const addr = byHead.get(u.id);
    assert.ok(addr !== undefined, `used id ${u.id} was never posted`);
    return d.bytes(addr, u.len);
  });
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test("a paste larger than the pending bound is delivered in full when the guest has buffers for it", () => {
  // The bundled Linux posts 128 page-sized receive buffers; a 100 KB paste used to be cut to 64 KiB.
  const { d, char } = setup();
  d.init({ queueSize: 128 });
  const bufs = postReceive(d, 40, 4096);
  const data = pattern(100_000);
  char.handler?.(data);
  assert.deepEqual(received(d, bufs), data);
});

test("input that does not fit waits, bounded to 64 KiB, dropping the newest bytes", () => {
  const { d, char } = setup();
  d.init({ queueSize: 128 });
  const first = postReceive(d, 1, 4096);
  const data = pattern(100_000);
  char.handler?.(data);
  assert.deepEqual(received(d, first), data.subarray(0, 4096));
  // 64 KiB were kept after the first 4096 bytes; the rest was dropped.
  const more = postReceive(d, 16, 4096);
  assert.deepEqual(received(d, more), data.subarray(4096, 4096 + 65536));
  // Nothing else is pending: a new buffer stays unused until more input arrives, which is accepted.
  const last = postReceive(d, 1, 16);
  assert.equal(received(d, last).length, 0);
  char.type("ok");
  assert.equal(text(received(d, last)), "ok");
});

test("input before the driver is up is kept up to 64 KiB", () => {
  const { d, char } = setup();
  const data = pattern(70_000);
  char.handler?.(data.subarray(0, 50_000));
  char.handler?.(data.subarray(50_000));
  d.init({ queueSize: 128 });
  const bufs = postReceive(d, 20, 4096);
  assert.deepEqual(received(d, bufs), data.subarray(0, 65536));
});
