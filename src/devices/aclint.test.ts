/** Unit tests for the CLINT: MSIP, mtimecmp/MTIP, mtime reads and writes, deadlines, save/restore. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { TWO_POW_32 } from "../base/u64.js";
import { Aclint } from "./aclint.js";
import { FakeClock, RecordingSink } from "./testing.js";

function setup(hartCount = 2) {
  const clock = new FakeClock(1_000_000);
  const sink = new RecordingSink();
  const clint = new Aclint({ hartCount, sink, clock });
  return { clock, sink, clint };
}

test("mtime counts 10 MHz ticks of the monotonic clock", () => {
  const { clock, clint } = setup();
  const t0 = clint.mtime();
  clock.advance(1_000_000); // 1 ms
  assert.equal(clint.mtime() - t0, 10_000);
  assert.equal(clint.read(0xbff8, 4), clint.mtime());
  assert.equal(clint.read(0xbffc, 4), 0);
});

test("MSIP bit 0 drives mip.MSIP for the addressed hart only", () => {
  const { sink, clint } = setup();
  clint.write(4, 4, 0xffffffff);
  assert.equal(sink.get(1, 3), true);
  assert.equal(sink.get(0, 3), false);
  assert.equal(clint.read(4, 4), 1);
  clint.write(4, 4, 0);
  assert.equal(sink.get(1, 3), false);
  // Out-of-range hart: ignored, reads zero.
  clint.write(8, 4, 1);
  assert.equal(clint.read(8, 4), 0);
});

test("mtimecmp raises and clears MTIP; split 64-bit writes work", () => {
  const { clock, sink, clint } = setup();
  const now = clint.mtime();
  assert.equal(sink.get(0, 7), false); // reset value is all ones: never fires
  clint.write(0x4000, 4, now + 100);
  clint.write(0x4004, 4, 0);
  assert.equal(sink.get(0, 7), false);
  assert.equal(clint.nextDeadline(), now + 100);
  clock.advance(100 * 100);
  clint.update();
  assert.equal(sink.get(0, 7), true);
  assert.equal(clint.nextDeadline(), Number.POSITIVE_INFINITY);
  // Writing a later compare value clears the pending bit immediately.
  clint.write(0x4004, 4, 0xffffffff);
  assert.equal(sink.get(0, 7), false);
  assert.equal(clint.read(0x4004, 4), 0xffffffff);
  assert.equal(clint.read(0x4006, 2), 0xffff);
  // Hart 1's comparator is independent.
  clint.write(0x4008, 4, 0);
  clint.write(0x400c, 4, 0);
  assert.equal(sink.get(1, 7), true);
  assert.equal(sink.get(0, 7), false);
});

test("deadlineNs converts the earliest compare value to host time", () => {
  const { clint } = setup(1);
  const now = clint.mtime();
  clint.setMtimecmp(0, now + 50, 0);
  assert.equal(clint.deadlineNs(), 1_000_000 + 50 * 100);
});

test("writes to mtime move time and keep counting", () => {
  const { clock, clint } = setup();
  clint.write(0xbff8, 4, 0x10);
  clint.write(0xbffc, 4, 0x2);
  assert.equal(clint.mtime(), 2 * TWO_POW_32 + 0x10);
  clock.advance(1000);
  assert.equal(clint.mtime(), 2 * TWO_POW_32 + 0x10 + 10);
});

test("a split 64-bit read of mtime is not torn across a low-word wrap", () => {
  const { clock, clint } = setup();
  clint.setMtime(0xffffffff);
  const lo = clint.read(0xbff8, 4);
  clock.advance(1000); // low word wraps between the two halves
  const hi = clint.read(0xbffc, 4);
  assert.equal(lo, 0xffffffff);
  assert.equal(hi, 0);
  // An unpaired read of the high half is fresh.
  assert.equal(clint.read(0xbffc, 4), 1);
});

test("save/restore keeps time continuous and restores comparators", () => {
  const { clock, clint } = setup();
  clint.write(4, 4, 1);
  clint.setMtimecmp(1, 0x1234, 0x5);
  clock.advance(5000);
  const saved = clint.save();
  const t = clint.mtime();

  const clock2 = new FakeClock(99_000_000_000);
  const sink2 = new RecordingSink();
  const other = new Aclint({ hartCount: 2, sink: sink2, clock: clock2 });
  assert.notDeepEqual(other.save(), saved, "the target starts in a different state");
  other.restore(saved);
  assert.equal(other.mtime(), t);
  clock2.advance(100);
  assert.equal(other.mtime(), t + 1);
  assert.equal(other.mtimecmp(1), 5 * TWO_POW_32 + 0x1234);
  assert.equal(sink2.get(1, 3), true);
  assert.throws(() => other.restore({ ...saved, kind: "plic" }));
});

test("a custom timer bit is driven instead of MTIP", () => {
  const clock = new FakeClock();
  const sink = new RecordingSink();
  const clint = new Aclint({ hartCount: 1, sink, clock, timerBit: 5 });
  clint.setMtimecmp(0, 0, 0);
  assert.equal(sink.get(0, 5), true);
  assert.equal(sink.get(0, 7), false);
});
