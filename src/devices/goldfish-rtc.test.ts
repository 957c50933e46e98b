/** Unit tests for the Goldfish RTC: time reads with latching, setting time, alarm and interrupt, save/restore. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { TWO_POW_32 } from "../base/u64.js";
import { GoldfishRtc } from "./goldfish-rtc.js";
import { FakeClock, FakeIrq } from "./testing.js";

/** Split a bigint time into the register halves. */
const hi = (t: bigint) => Number(t >> 32n);
const lo = (t: bigint) => Number(t & 0xffff_ffffn);

function setup() {
  const clock = new FakeClock(0, 1_600_000_000 * 1e9);
  const irq = new FakeIrq();
  const rtc = new GoldfishRtc({ clock, irq });
  return { clock, irq, rtc };
}

function readTime(rtc: GoldfishRtc): bigint {
  const l = rtc.read(0x00, 4);
  const h = rtc.read(0x04, 4);
  return (BigInt(h) << 32n) | BigInt(l);
}

test("TIME_LOW/TIME_HIGH read the wall clock; reading LOW latches HIGH", () => {
  const { clock, rtc } = setup();
  assert.equal(readTime(rtc), BigInt(clock.wallNs()));
  rtc.read(0x00, 4);
  const latched = rtc.read(0x04, 4);
  clock.advance(100 * TWO_POW_32);
  assert.equal(rtc.read(0x04, 4), latched);
});

test("writing HIGH then LOW sets the guest time, which keeps running", () => {
  const { clock, rtc } = setup();
  const target = 1_000_000_000_123_456_789n;
  rtc.write(0x04, 4, hi(target));
  rtc.write(0x00, 4, lo(target));
  assert.equal(readTime(rtc), target);
  clock.wall += 5 * 1024;
  assert.equal(readTime(rtc), target + 5n * 1024n);
});

test("an alarm fires when due, raises the IRQ if enabled, and is cleared", () => {
  const { clock, irq, rtc } = setup();
  const due = rtc.now() + 1_048_576n;
  rtc.write(0x10, 4, 1);
  rtc.write(0x0c, 4, hi(due));
  rtc.write(0x08, 4, lo(due));
  assert.equal(rtc.read(0x18, 4), 1);
  assert.equal(rtc.deadlineNs(), clock.nowNs() + 1_048_576);
  rtc.update();
  assert.equal(irq.level, false);
  clock.advance(1_048_576);
  rtc.update();
  assert.equal(irq.level, true);
  assert.equal(rtc.read(0x18, 4), 0);
  assert.equal(rtc.deadlineNs(), Number.POSITIVE_INFINITY);
  rtc.write(0x1c, 4, 1);
  assert.equal(irq.level, false);
});

test("an alarm in the past fires at once; CLEAR_ALARM disarms; disabled IRQ stays low", () => {
  const { clock, irq, rtc } = setup();
  rtc.write(0x0c, 4, 0);
  rtc.write(0x08, 4, 5);
  assert.equal(rtc.read(0x18, 4), 0);
  assert.equal(irq.level, false, "IRQ_ENABLED is off");
  rtc.write(0x10, 4, 1);
  assert.equal(irq.level, true, "pending interrupt shows once enabled");
  rtc.write(0x1c, 4, 1);
  const due = rtc.now() + 1024n;
  rtc.write(0x0c, 4, hi(due));
  rtc.write(0x08, 4, lo(due));
  rtc.write(0x14, 4, 1);
  clock.advance(4096);
  rtc.update();
  assert.equal(irq.level, false);
});

test("save/restore keeps the guest's offset from the wall clock", () => {
  const { clock, rtc } = setup();
  rtc.write(0x04, 4, 0);
  rtc.write(0x00, 4, 1234);
  rtc.write(0x10, 4, 1);
  const saved = rtc.save();
  clock.advance(1000);
  const other = setup();
  other.clock.wall = clock.wall;
  assert.notEqual(other.rtc.now(), rtc.now(), "the target starts in a different state");
  other.rtc.restore(saved);
  assert.equal(other.rtc.now(), rtc.now());
  assert.equal(other.rtc.read(0x10, 4), 1);
});

test("a guest time at the top of the 64-bit range wraps, and its state saves and restores", () => {
  const { clock, rtc } = setup();
  const top = (1n << 64n) - 1000n;
  rtc.write(0x04, 4, hi(top));
  rtc.write(0x00, 4, lo(top));
  assert.equal(readTime(rtc), top);
  const other = new GoldfishRtc({ clock, irq: new FakeIrq() });
  other.restore(rtc.save());
  assert.equal(readTime(other), top);
  // The fake wall clock is a double near 1.6e18 ns (256 ns resolution), so check the wrap with margin.
  clock.advance(1_000_000);
  const wrapped = readTime(other);
  assert.ok(wrapped > 990_000n && wrapped < 1_010_000n, `the counter wraps modulo 2^64 (read ${wrapped})`);
});
