/** virtio-console tests through the MMIO transport. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GuestRam } from "../../memory/guest-ram.js";
import { FakeChar, FakeIrq } from "../testing.js";
import {
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
  VirtioConsole,
} from "./console.js";
import * as C from "./constants.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { TestDriver } from "./testing.js";

function setupMultiport() {
  const ram = new GuestRam(0x80000000, 1 << 20);
  const irq = new FakeIrq();
  const char = new FakeChar();
  const con = new VirtioConsole({ char });
  const t = new VirtioMmioTransport({ device: con, ram, irq });
  const d = new TestDriver(t, ram);
  return { ram, irq, char, con, t, d };
}

/**
 * Most tests drive the single-port device, as a driver without MULTIPORT does (input is delivered as
 * soon as buffers are posted); the multiport handshake has tests of its own below.
 */
function setup() {
  const s = setupMultiport();
  const init = s.d.init.bind(s.d);
  s.d.init = (o = {}) =>
    init({
      accept: (bank, offered) => (bank === 0 ? offered & ~(1 << VIRTIO_CONSOLE_F_MULTIPORT) : offered),
      ...o,
    });
  return s;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("device id 3, four queues, 12-byte config with max_nr_ports 1", () => {
  const { d, t } = setup();
  assert.equal(d.init(), true);
  assert.equal(d.reg(0x008), 3);
  assert.equal(d.queues.length, 4);
  assert.equal(t.read(0x100, 4), 0); // cols, rows
  assert.equal(t.read(0x104, 4), 1); // max_nr_ports
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

test("§5.3.3: only MULTIPORT is offered, so receiveq/transmitq (0, 1) and the control queues (2, 3) exist", () => {
  const { d } = setup();
  d.setReg(C.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  // VIRTIO_CONSOLE_F_SIZE (0), F_MULTIPORT (1), F_EMERG_WRITE (2).
  assert.equal(d.reg(C.VIRTIO_MMIO_DEVICE_FEATURES) & 0b111, 0b010);
  const numMax = (q: number) => {
    d.setReg(C.VIRTIO_MMIO_QUEUE_SEL, q);
    return d.reg(C.VIRTIO_MMIO_QUEUE_NUM_MAX);
  };
  for (const q of [0, 1, 2, 3]) assert.ok(numMax(q) > 0, `queue ${q}`);
  // §4.2.2: QueueNumMax 0 means the queue is not available (max_nr_ports is 1: no port 1 queues).
  assert.equal(numMax(4), 0);
});

/** An 8-byte struct virtio_console_control. */
function controlMsg(id: number, event: number, value: number): Uint8Array {
  const m = new Uint8Array(8);
  const v = new DataView(m.buffer);
  v.setUint32(0, id, true);
  v.setUint16(4, event, true);
  v.setUint16(6, value, true);
  return m;
}

/** Send a driver → device control message on queue 3. */
function sendControl(d: TestDriver, id: number, event: number, value: number): void {
  d.add(3, [{ data: controlMsg(id, event, value) }]);
  d.kick(3);
}

/** The device → driver control messages returned in queue 2, as [id, event, value]. */
function controlReceived(d: TestDriver, byHead: Map<number, number>): number[][] {
  return d.takeUsed(2).map((u) => {
    const addr = byHead.get(u.id);
    assert.ok(addr !== undefined && u.len === 8, `control buffer ${u.id} len ${u.len}`);
    const v = new DataView(d.bytes(addr, 8).slice().buffer);
    return [v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true)];
  });
}

test("§5.3.6.2 multiport: the port handshake, and input held until the driver opens port 0", () => {
  // Linux posts port 0's receive buffers before it marks the port connected and discards what arrives
  // in between; piped input typed before boot was lost that way. The device now waits for PORT_OPEN.
  const { d, char } = setupMultiport();
  char.type("tty\n"); // before the driver is up
  assert.equal(d.init(), true);
  const ctl = new Map<number, number>();
  for (let i = 0; i < 4; i++) {
    const r = d.add(2, [{ writable: 8 }]);
    ctl.set(r.head, r.addrs[0]);
  }
  d.kick(2);
  sendControl(d, 0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1);
  assert.deepEqual(controlReceived(d, ctl), [[0, VIRTIO_CONSOLE_DEVICE_ADD, 0]]);
  // add_port: receive buffers posted, port not open yet: nothing may be delivered.
  const rx = postReceive(d, 2, 64);
  assert.equal(d.takeUsed(0).length, 0);
  sendControl(d, 0, VIRTIO_CONSOLE_PORT_READY, 1);
  assert.deepEqual(controlReceived(d, ctl), [
    [0, VIRTIO_CONSOLE_CONSOLE_PORT, 1],
    [0, VIRTIO_CONSOLE_PORT_OPEN, 1],
  ]);
  char.type("echo hi\n");
  assert.equal(d.takeUsed(0).length, 0, "input before the driver's PORT_OPEN is held");
  // init_port_console: guest_connected, then PORT_OPEN 1. Everything typed so far arrives, in order.
  sendControl(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
  assert.equal(text(received(d, rx)), "tty\necho hi\n");
  // Closed again: input waits for the next open.
  sendControl(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 0);
  const more = postReceive(d, 1, 64);
  char.type("x");
  assert.equal(d.takeUsed(0).length, 0);
  sendControl(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
  assert.equal(text(received(d, new Map([...rx, ...more]))), "x");
});

test("multiport: control messages wait for control buffers; the port state survives save/restore", () => {
  const { d, t, char } = setupMultiport();
  d.init();
  sendControl(d, 0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1); // no control receive buffer yet
  sendControl(d, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
  char.type("ab");
  const saved = t.save();
  const other = setupMultiport();
  other.t.restore(saved);
  other.d.queues.push(...d.queues);
  other.d.heap = d.alloc(0);
  const ctl = new Map<number, number>();
  const r = other.d.add(2, [{ writable: 8 }]);
  ctl.set(r.head, r.addrs[0]);
  other.d.kick(2);
  assert.deepEqual(controlReceived(other.d, ctl), [[0, VIRTIO_CONSOLE_DEVICE_ADD, 0]]);
  const rx = postReceive(other.d, 1, 8);
  assert.equal(text(received(other.d, rx)), "ab");
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
