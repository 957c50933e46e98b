/**
 * Boot test with more than 2 GiB of RAM: the DTB and initramfs then sit at RAM offsets above 2^31, which
 * the CPU's typed-array fast paths must index as unsigned (a signed shift would wrap negative).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GuestSession, missingImages } from "./guest-session.js";

test("a 3 GiB guest boots and sees its memory", { timeout: 180_000 }, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const s = new GuestSession({ memMiB: 3072 });
  try {
    await s.waitForShell();
    const total = Number(/Mem:\s+(\d+)/.exec(await s.run("free -m"))?.[1]);
    assert.ok(total > 2900 && total <= 3072, `free -m total ${total}`);
    // Fill most of memory with page cache, then check random data survives copies through it.
    await s.run("dd if=/dev/zero of=/tmp/fill bs=1M count=2048 2>/dev/null; echo done", 120_000);
    const sums = await s.run(
      "dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null; cp /tmp/r /tmp/r2; md5sum /tmp/r /tmp/r2",
      120_000,
    );
    const [a, b] = sums
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/)[0]);
    assert.match(a, /^[0-9a-f]{32}$/);
    assert.equal(a, b);
    s.type("poweroff\n");
    assert.deepEqual(await s.exit, { kind: "poweroff" });
  } finally {
    await s.close();
  }
});
