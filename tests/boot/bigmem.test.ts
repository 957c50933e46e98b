/**
 * Boot test with more than 2 GiB of RAM: the DTB and initramfs then sit at RAM offsets above 2^31, which
 * the CPU's typed-array fast paths must index as unsigned (a signed shift would wrap negative).
 *
 * The boot itself covers that: the kernel reads the DTB and unpacks the initramfs from the top of RAM,
 * and memblock allocates top-down, so the struct page array and early allocations (~46 MiB) are written
 * at offsets near 3 GiB. Page cache then comes from high memory too (observed with the bundled kernel:
 * the files below land 2.0-2.25 GiB into RAM), so a few MiB of file data cover guest loads and stores
 * there. An earlier version filled 2 GiB with `dd` first, which cost ~60 s of interpretation on an idle
 * machine for no coverage the boot lacks, and timed out on a loaded one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages } from "./guest-session.js";

test("a 3 GiB guest boots and sees its memory", { timeout: BOOT_TEST_TIMEOUT_MS }, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const s = new GuestSession({ memMiB: 3072 });
  try {
    await s.waitForShell();
    const total = Number(/Mem:\s+(\d+)/.exec(await s.run("free -m"))?.[1]);
    assert.ok(total > 2900 && total <= 3072, `free -m total ${total}`);
    // Random data survives copies through page cache.
    const sums = await s.run(
      "dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null; cp /tmp/r /tmp/r2; md5sum /tmp/r /tmp/r2",
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
