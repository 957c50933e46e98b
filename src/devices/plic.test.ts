/** Unit tests for the PLIC: priorities, enables, thresholds, claim/complete gateway semantics, save/restore. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Plic, plicSize } from "./plic.js";
import { RecordingSink } from "./testing.js";

const MEIP = 11;
const SEIP = 9;
const prio = (src: number) => 4 * src;
const enable = (ctx: number) => 0x2000 + 0x80 * ctx;
const threshold = (ctx: number) => 0x200000 + 0x1000 * ctx;
const claim = (ctx: number) => threshold(ctx) + 4;

function setup() {
  const sink = new RecordingSink();
  const plic = new Plic({ hartCount: 2, sink });
  return { sink, plic };
}

test("region size covers two contexts per hart", () => {
  assert.equal(plicSize(2), 0x204000);
});

test("an enabled source above threshold raises SEIP on the S context and is claimed", () => {
  const { sink, plic } = setup();
  plic.write(prio(10), 4, 1);
  plic.write(enable(1), 4, 1 << 10);
  plic.line(10).set(true);
  assert.equal(plic.read(0x1000, 4), 1 << 10);
  assert.equal(sink.get(0, SEIP), true);
  assert.equal(sink.get(0, MEIP), false);
  assert.equal(plic.read(claim(1), 4), 10);
  assert.equal(sink.get(0, SEIP), false);
  assert.equal(plic.read(0x1000, 4), 0);
  // A second claim finds nothing.
  assert.equal(plic.read(claim(1), 4), 0);
});

test("a claimed level source is not re-pended until completed, then re-pends while high", () => {
  const { sink, plic } = setup();
  plic.write(prio(5), 4, 3);
  plic.write(enable(1), 4, 1 << 5);
  plic.line(5).set(true);
  assert.equal(plic.read(claim(1), 4), 5);
  plic.line(5).set(false);
  plic.line(5).set(true);
  assert.equal(plic.read(0x1000, 4), 0, "in service: gateway holds the request");
  assert.equal(sink.get(0, SEIP), false);
  plic.write(claim(1), 4, 5);
  assert.equal(plic.read(0x1000, 4), 1 << 5, "still asserted after completion: pending again");
  assert.equal(sink.get(0, SEIP), true);
  assert.equal(plic.read(claim(1), 4), 5);
  plic.line(5).set(false);
  plic.write(claim(1), 4, 5);
  assert.equal(plic.read(0x1000, 4), 0);
  assert.equal(sink.get(0, SEIP), false);
});

test("completion of a source not enabled for the context is ignored", () => {
  const { plic } = setup();
  plic.write(prio(7), 4, 1);
  plic.write(enable(1), 4, 1 << 7);
  plic.line(7).set(true);
  assert.equal(plic.read(claim(1), 4), 7);
  plic.write(claim(3), 4, 7); // context 3 (hart 1 S) has source 7 disabled
  assert.equal(plic.read(0x1000, 4), 0, "still in service");
  plic.write(claim(1), 4, 7);
  assert.equal(plic.read(0x1000, 4), 1 << 7);
});

test("highest priority wins, ties go to the lowest ID, threshold masks", () => {
  const { sink, plic } = setup();
  plic.write(prio(3), 4, 2);
  plic.write(prio(4), 4, 5);
  plic.write(prio(6), 4, 5);
  plic.write(enable(0), 4, (1 << 3) | (1 << 4) | (1 << 6));
  for (const s of [3, 4, 6]) plic.line(s).set(true);
  assert.equal(sink.get(0, MEIP), true);
  plic.write(threshold(0), 4, 5);
  assert.equal(sink.get(0, MEIP), false, "priority must exceed the threshold");
  assert.equal(plic.read(claim(0), 4), 0);
  plic.write(threshold(0), 4, 1);
  assert.equal(plic.read(claim(0), 4), 4);
  assert.equal(plic.read(claim(0), 4), 6);
  assert.equal(plic.read(claim(0), 4), 3);
  assert.equal(plic.read(claim(0), 4), 0);
});

test("priority 0 never interrupts and priorities saturate at 7", () => {
  const { sink, plic } = setup();
  plic.write(enable(2), 4, 1 << 1);
  plic.line(1).set(true);
  assert.equal(sink.get(1, MEIP), false);
  plic.write(prio(1), 4, 0xff);
  assert.equal(plic.read(prio(1), 4), 7);
  assert.equal(sink.get(1, MEIP), true);
});

test("a withdrawn request that was never claimed stops interrupting", () => {
  const { sink, plic } = setup();
  plic.write(prio(2), 4, 1);
  plic.write(enable(1), 4, 1 << 2);
  plic.line(2).set(true);
  assert.equal(sink.get(0, SEIP), true);
  plic.line(2).set(false);
  assert.equal(sink.get(0, SEIP), false);
});

test("sources above 31 use the second word; source 0 cannot be enabled", () => {
  const { plic } = setup();
  plic.write(prio(40), 4, 1);
  plic.write(enable(1) + 4, 4, 1 << 8);
  plic.write(enable(1), 4, 0xffffffff);
  assert.equal(plic.read(enable(1), 4), 0xfffffffe);
  plic.line(40).set(true);
  assert.equal(plic.read(0x1004, 4), 1 << 8);
  assert.equal(plic.read(claim(1), 4), 40);
  assert.throws(() => plic.line(0));
  assert.throws(() => plic.line(96));
});

test("save/restore round-trips state and re-drives outputs", () => {
  const { plic } = setup();
  plic.write(prio(9), 4, 4);
  plic.write(prio(12), 4, 2);
  plic.write(enable(3), 4, (1 << 9) | (1 << 12));
  plic.write(threshold(3), 4, 1);
  plic.line(9).set(true);
  plic.line(12).set(true);
  assert.equal(plic.read(claim(3), 4), 9);
  const saved = plic.save();

  const sink2 = new RecordingSink();
  const other = new Plic({ hartCount: 2, sink: sink2 });
  assert.notDeepEqual(other.save(), saved, "the target starts in a different state");
  other.restore(saved);
  assert.equal(sink2.get(1, SEIP), true);
  assert.equal(other.read(threshold(3), 4), 1);
  assert.equal(other.read(claim(3), 4), 12);
  other.write(claim(3), 4, 9); // 9 was claimed before the save; completing re-pends it
  assert.equal(other.read(claim(3), 4), 9);
  assert.deepEqual(other.save().priority, saved.priority);
  assert.deepEqual(other.save().enable, saved.enable);
});
