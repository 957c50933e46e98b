/** Boot test: two harts under the built-in SBI (HSM ordered boot, IPIs, remote fences). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages } from "./guest-session.js";

test("SMP: 2 harts come up and nproc says 2", { timeout: BOOT_TEST_TIMEOUT_MS }, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const s = new GuestSession({ cpus: 2 });
  try {
    await s.waitForShell();
    assert.match(s.console.output, /smp: Brought up 1 node, 2 CPUs/);
    assert.equal((await s.run("nproc")).trim(), "2");
    const harts = (await s.run("grep ^hart /proc/cpuinfo")).trim().split("\n");
    assert.equal(harts.length, 2);
    // Work on both harts: two background loops, then both finish (IPIs and scheduling across harts).
    const out = await s.run(
      "(i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; echo A) & (j=0; while [ $j -lt 300 ]; do j=$((j+1)); done; echo B) & wait",
    );
    assert.deepEqual(out.match(/^[AB]$/gm)?.sort(), ["A", "B"]);
    s.type("poweroff\n");
    assert.deepEqual(await s.exit, { kind: "poweroff" });
  } finally {
    await s.close();
  }
});
