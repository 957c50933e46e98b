/** Boot test of --no-reboot (QEMU's -no-reboot): a guest reset ends the run instead of booting again. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import {
  BOOT_TEST_TIMEOUT_MS,
  GuestSession,
  HANG_GUARD_MS,
  missingImages,
  TVISOR_CLI,
} from "./guest-session.js";

test("with noReboot a guest reboot ends the run with kind reset, after one boot", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const s = new GuestSession({ noReboot: true });
  try {
    await s.waitForShell();
    s.type("reboot\n");
    assert.deepEqual(await s.exit, { kind: "reset" });
    assert.equal(s.vm.boots, 1);
  } finally {
    await s.close();
  }
});

test("tvisor run --no-reboot exits 0 when the guest reboots", { timeout: BOOT_TEST_TIMEOUT_MS }, (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const r = spawnSync(process.execPath, [TVISOR_CLI, "run", "--mem", "128M", "--no-reboot"], {
    input: "reboot\n",
    encoding: "utf8",
    timeout: HANG_GUARD_MS,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /reboot: Restarting system/);
  assert.equal(r.stdout.match(/tvisor: guest ready/g)?.length, 1);
});
