/** virtio-console tests through the MMIO transport. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CharBackend } from "../../io/char-backend.js";
import { GuestRam } from "../../memory/guest-ram.js";
import { FakeIrq } from "../testing.js";
import { VirtioConsole } from "./console.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { TestDriver } from "./testing.js";

class FakeChar implements CharBackend {
  out = "";
  handler: ((d: Uint8Array) => void) | null = null;
  write(data: Uint8Array): void {
    this.out += new TextDecoder().decode(data);
  }
  onInput(handler: (d: Uint8Array) => void): void {
    this.handler = handler;
  }
  type(s: string): void {
    this.handler?.(new TextEncoder().encode(s));
  }
}

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
  assert.equal(char.out, "hello, world\n");
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
  const { d, char, t } = setup();
  d.init();
  char.type("abc");
  const saved = t.save();
  const other = setup();
  other.t.restore(saved);
  other.d.queues.push(...d.queues);
  other.d.heap = d.alloc(0);
  const r = other.d.add(0, [{ writable: 8 }]);
  other.d.kick(0);
  assert.equal(text(other.d.bytes(r.addrs[0], 3)), "abc");
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
