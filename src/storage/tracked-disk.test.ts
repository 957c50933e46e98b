/** The dirty-range tracker behind copied-storage migration: what it marks, and when. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemDisk } from "../io/testing.js";
import { chunkMarked, DirtyRanges, markedCount } from "./dirty-ranges.js";
import { TrackedDisk } from "./tracked-disk.js";

test("a range marks every chunk it touches, clipped to the disk; harvest starts an empty set", () => {
  const d = new DirtyRanges(10 * 4096 + 100, 4096);
  assert.equal(d.chunks, 11);
  d.mark(4095, 2); // straddles chunks 0 and 1
  d.mark(10 * 4096 + 50, 1 << 20); // the short last chunk, clipped
  d.mark(1 << 30, 10); // beyond the disk: nothing
  const b = d.harvest();
  assert.deepEqual(
    [0, 1, 2, 10].map((c) => chunkMarked(b, c)),
    [true, true, false, true],
  );
  assert.equal(markedCount(b), 3);
  assert.equal(markedCount(d.harvest()), 0);
});

test("writes, discards and write-zeroes are marked once they complete, also after a harvest in between", async () => {
  const inner = new MemDisk(64 * 1024);
  const t = new TrackedDisk(inner);
  await t.write(0, new Uint8Array(512)); // not tracking yet
  t.startTracking(4096);
  assert.equal(markedCount(t.harvest()), 0);
  inner.hold = true;
  const w = t.write(8192, new Uint8Array(512).fill(1));
  const z = t.writeZeroes(16384, 4096);
  const x = t.discard(32768, 8192);
  // A copier harvests while the requests are in flight: it may read the old bytes, so the chunks must
  // be marked again when they complete.
  assert.equal(markedCount(t.harvest()), 0);
  for (const f of inner.held.splice(0)) f();
  await Promise.all([w, z, x]);
  const b = t.harvest();
  assert.deepEqual(
    [2, 4, 8, 9, 0].map((c) => chunkMarked(b, c)),
    [true, true, true, true, false],
  );
  // Reads and flushes mark nothing.
  inner.hold = false;
  await t.read(0, new Uint8Array(4096));
  await t.flush();
  assert.equal(markedCount(t.harvest()), 0);
  t.stopTracking();
  await t.write(0, new Uint8Array(1));
  assert.throws(() => t.harvest(), /not on/);
  assert.equal((await t.flatStatus(0, 1 << 20)).kind, "data");
});
