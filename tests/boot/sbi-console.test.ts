/**
 * Boot test of the SBI console as the guest's console (console=hvc0: Linux's HVC_RISCV_SBI driver over the
 * legacy getchar/putchar calls), and of input routing: with the shell on hvc0 the UART's driver is never
 * opened, so typed input must reach SBI getchar; with the shell on ttyS0 it must reach the UART.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages } from "./guest-session.js";

for (const [name, append] of [
  ["hvc0 (SBI console)", "console=hvc0 earlycon=sbi"],
  ["ttyS0 (UART)", "console=ttyS0 earlycon=sbi"],
] as const) {
  test(`the shell on ${name} answers typed commands`, { timeout: BOOT_TEST_TIMEOUT_MS }, async (t) => {
    const why = missingImages();
    if (why) return t.skip(why);
    const s = new GuestSession({ append });
    try {
      await s.waitForShell();
      assert.equal((await s.run("uname -m")).trim(), "riscv64");
      assert.equal(
        (await s.run("cat /proc/consoles | cut -d' ' -f1")).trim(),
        /console=(\S+)/.exec(append)?.[1],
      );
      s.type("poweroff\n");
      assert.deepEqual(await s.exit, { kind: "poweroff" });
    } finally {
      await s.close();
    }
  });
}
