/**
 * The bundled guest boots with the JIT on (the default) and runs commands whose output depends on
 * translated code being right (arithmetic in a shell loop, checksums, a compressor), on 1 and 4 harts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages } from "../boot/guest-session.js";

for (const cpus of [1, 4]) {
  test(`boot with --jit on, ${cpus} hart(s): shell, arithmetic, sha256sum, gzip`, {
    timeout: BOOT_TEST_TIMEOUT_MS,
  }, async (t) => {
    const why = missingImages();
    if (why) return t.skip(why);
    const s = new GuestSession({ cpus, jit: "on" });
    try {
      await s.waitForShell();
      assert.equal((await s.run("nproc")).trim(), String(cpus));
      assert.equal(
        (await s.run("i=0; s=0; while [ $i -lt 3000 ]; do s=$((s+i*i)); i=$((i+1)); done; echo $s")).trim(),
        "8995500500",
      );
      // Doubles in busybox awk (F/D inside translated regions): the sum matches the host's IEEE doubles.
      assert.equal(
        (
          await s.run(
            "awk 'BEGIN { s = 0; for (i = 0; i < 3000; i++) s += i / 7 * 1.5 + 0.1; printf \"%.6f\\n\", s }'",
          )
        ).trim(),
        "964264.285714",
      );
      // sha256 of 64 KiB of zeros (a known digest), and a gzip round trip.
      assert.match(
        await s.run("head -c 65536 /dev/zero | sha256sum"),
        /de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31/,
      );
      assert.equal(
        (await s.run("seq 1 20000 | gzip -1 | gzip -d | md5sum")).trim(),
        (await s.run("seq 1 20000 | md5sum")).trim(),
      );
      const jits = s.vm.machine?.jits ?? [];
      assert.equal(jits.length, cpus);
      assert.ok(
        jits.some((j) => j.stats.regions > 0),
        "hot guest code was translated",
      );
      s.type("poweroff\n");
      assert.deepEqual(await s.exit, { kind: "poweroff" });
    } finally {
      await s.close();
    }
  });
}
