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

test("save/restore", () => {
  const { dev } = setup();
  const s = dev.save();
  dev.restore(s);
  assert.throws(() => dev.restore({ kind: "x", version: 1 }));
});
