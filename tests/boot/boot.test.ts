/** Boot test: the bundled guest reaches a shell under the built-in SBI and answers commands; poweroff ends the run. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, HANG_GUARD_MS, missingImages } from "./guest-session.js";

test("bundled guest boots to a shell and answers", { timeout: BOOT_TEST_TIMEOUT_MS }, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const s = new GuestSession();
  try {
    await s.waitForShell();
    // The kernel saw our SBI and device tree.
    assert.match(s.console.output, /SBI specification v2\.0 detected/);
    assert.match(s.console.output, /Machine model: riscv-virtio,qemu/);
    assert.equal((await s.run("uname -m")).trim(), "riscv64");
    const cpuinfo = await s.run("cat /proc/cpuinfo");
    assert.match(cpuinfo, /^isa\s*:\s*rv64imafdc/m);
    assert.match(cpuinfo, /^mmu\s*:\s*sv48/m);
    assert.equal((await s.run("echo $((6 * 7 + 123456789 * 3))")).trim(), "370370409");
    assert.equal((await s.run("nproc")).trim(), "1");
    // virtio-rng: 64 bytes from /dev/hwrng, and they are not all equal.
    const hex = (await s.run("head -c 64 /dev/hwrng | od -An -v -tx1")).replace(/\s+/g, "");
    assert.equal(hex.length, 128, `hwrng output: ${hex}`);
    assert.ok(new Set(hex.match(/../g)).size > 8, `hwrng bytes look constant: ${hex}`);
    // The goldfish RTC set the clock: the year is at least the kernel's build year.
    const year = (await s.run("date +%Y")).trim();
    assert.ok(Number(year) >= 2025, `date +%Y printed ${JSON.stringify(year)}`);
    s.type("poweroff\n");
    assert.deepEqual(await s.exit, { kind: "poweroff" });
    assert.equal(s.vm.boots, 1);
    assert.ok(s.vm.instret > 10_000_000, `only ${s.vm.instret} instructions retired`);
  } finally {
    await s.close();
  }
});

test("reboot restarts the guest; the second boot powers off", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const s = new GuestSession();
  try {
    await s.waitForShell();
    const mark = s.console.output.length;
    s.type("reboot\n");
    await s.console.waitFor(/reboot: Restarting system/, HANG_GUARD_MS, mark);
    await s.waitForShell(mark);
    assert.equal(s.vm.boots, 2);
    assert.equal((await s.run("echo again")).trim(), "again");
    s.type("poweroff\n");
    assert.deepEqual(await s.exit, { kind: "poweroff" });
  } finally {
    await s.close();
  }
});
