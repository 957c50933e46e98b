/** The write-aware RAM path: code-page marks, store TLB shoot-down, and every writer reaching the listeners. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GuestRam, RAM_OFFSET } from "./guest-ram.js";
import { PhysicalBus } from "./phys-bus.js";

const BASE = 0x80000000;

function withListener(ram: GuestRam): Array<[number, number]> {
  const seen: Array<[number, number]> = [];
  ram.onCodeWrite((a, b) => seen.push([a, b]));
  return seen;
}

test("RAM and hart blocks share one wasm memory; RAM views start after the control area", () => {
  const ram = new GuestRam(BASE, 1 << 20);
  assert.ok(ram.memory !== null);
  assert.equal(ram.ramOffset, RAM_OFFSET);
  ram.u8[5] = 0xab;
  assert.equal(new Uint8Array(ram.buffer)[RAM_OFFSET + 5], 0xab);
  const a = ram.allocHartBlock();
  const b = ram.allocHartBlock();
  assert.ok(a >= 0 && b > a && b < RAM_OFFSET);
});

test("writes to unmarked pages notify nobody; writes to code pages notify once and clear the mark", () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const seen = withListener(ram);
  ram.write(BASE + 0x3000, new Uint8Array([1, 2, 3]));
  assert.deepEqual(seen, []);
  ram.markCode(3);
  ram.markCode(5);
  assert.equal(ram.storeCacheable(0x3000), false);
  ram.write(BASE + 0x2ffe, new Uint8Array([1, 2, 3])); // straddles pages 2 and 3
  assert.equal(seen.length, 1);
  assert.ok(seen[0][0] <= 3 && seen[0][1] >= 3);
  assert.equal(ram.codePages[3], 0);
  assert.equal(ram.storeCacheable(0x3000), true);
  ram.write(BASE + 0x3000, new Uint8Array([9]));
  assert.equal(seen.length, 1, "the mark is gone until the page is translated again");
  // DMA through sliceForWrite, fills and bus stores all count.
  ram.sliceForWrite(BASE + 0x5000, 16);
  assert.equal(seen.length, 2);
  ram.markCode(7);
  new PhysicalBus(ram).write(BASE + 0x7004, 4, 0x1234);
  assert.equal(seen.length, 3);
  ram.markCode(9);
  ram.fill(BASE + 0x9000, 10, 0);
  assert.equal(seen.length, 4);
  ram.markCode(1);
  ram.setAll(new Uint8Array(ram.size));
  assert.equal(seen.length, 5);
  // Reads do not.
  ram.markCode(2);
  ram.slice(BASE + 0x2000, 100);
  assert.equal(seen.length, 5);
});

test("marking a page as code drops store TLB entries that map it", () => {
  const ram = new GuestRam(BASE, 1 << 20);
  let dropped = -1;
  const tlb = {
    off: new Int32Array([0x1000, 0x4000, 0x4000]),
    tagHi: new Int32Array(3),
    invalidateEntry: (i: number) => {
      dropped = i;
      tlb.off[i] = -1;
    },
  };
  ram.registerStoreTlb(tlb);
  ram.markCode(4);
  assert.deepEqual(Array.from(tlb.off), [0x1000, -1, -1]);
  assert.equal(dropped, 2);
});

test("RAM too large for a wasm32 memory falls back to a plain buffer without hart blocks", () => {
  const ram = new GuestRam(BASE, 2 ** 32);
  assert.equal(ram.memory, null);
  assert.equal(ram.ramOffset, 0);
  assert.equal(ram.allocHartBlock(), -1);
});
