/**
 * Boot test of the CLI's pipe mode with a script written before the guest is up: `tvisor run` must hold
 * the input until the guest's serial driver takes it, so a whole session can be piped in.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, HANG_GUARD_MS, missingImages, TVISOR_CLI } from "./guest-session.js";

test("a script piped in at start-up runs in the guest and powers it off", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const r = spawnSync(process.execPath, [TVISOR_CLI, "run", "--mem", "128M"], {
    input: "uname -m\necho $((6*7))\npoweroff\n",
    encoding: "utf8",
    timeout: HANG_GUARD_MS,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /uname -m\r?\nriscv64/);
  assert.match(r.stdout, /\r?\n42\r?\n/);
  assert.match(r.stdout, /reboot: Power down/);
});
