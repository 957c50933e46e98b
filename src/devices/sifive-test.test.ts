/** Unit tests for the SiFive test finisher. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type PowerEvent, SifiveTest } from "./sifive-test.js";

function setup() {
  const events: [PowerEvent, number][] = [];
  const dev = new SifiveTest((kind, code) => events.push([kind, code]));
  return { events, dev };
}

test("0x5555 powers off, 0x7777 resets, 0x3333 fails with the upper half as code", () => {
  const { events, dev } = setup();
  dev.write(0, 4, 0x5555);
  dev.write(0, 4, 0x7777);
  dev.write(0, 4, (42 << 16) | 0x3333);
  assert.deepEqual(events, [
    ["poweroff", 0],
    ["reset", 0],
    ["fail", 42],
  ]);
  dev.write(0, 2, 0x5555);
  assert.deepEqual(events[3], ["poweroff", 0]);
});

test("other values, offsets and widths are ignored; reads are zero", () => {
  const { events, dev } = setup();
  dev.write(0, 4, 0x1234);
  dev.write(4, 4, 0x5555);
  dev.write(0, 1, 0x55);
  assert.equal(dev.read(0, 4), 0);
  assert.deepEqual(events, []);
});

test("save/restore: the finisher has no state; restore checks kind and version and keeps the device working", () => {
  const saved = setup().dev.save();
  assert.deepEqual(saved, { kind: "sifive-test", version: 1 });
  // Restore into another device, which must still signal to its own machine afterwards.
  const other = setup();
  other.dev.restore(saved);
  other.dev.write(0, 4, (3 << 16) | 0x3333);
  assert.deepEqual(other.events, [["fail", 3]]);
  assert.throws(() => other.dev.restore({ kind: "x", version: 1 }));
  assert.throws(() => other.dev.restore({ kind: "sifive-test", version: 2 }));
});
