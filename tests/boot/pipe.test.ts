/**
 * Boot test of the CLI's pipe mode with a script written before the guest is up: `tvisor run` must hold
 * the input until the guest's console driver takes it, so a whole session can be piped in. On the UART
 * the board holds it until the driver enables receive; on the virtio console the device holds it until
 * the driver opens the port (multiport PORT_OPEN): Linux discards what arrives before, so a piped
 * script was lost there and the guest sat at its prompt.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, HANG_GUARD_MS, missingImages, TVISOR_CLI } from "./guest-session.js";

for (const [name, extra, tty] of [
  ["the UART", [], "/dev/ttyS0"],
  ["the virtio console", ["--console", "virtio"], "/dev/hvc1"],
] as const) {
  test(`a script piped in at start-up runs in the guest on ${name} and powers it off`, {
    timeout: BOOT_TEST_TIMEOUT_MS,
  }, (t) => {
    const why = missingImages();
    if (why) return t.skip(why);
    const r = spawnSync(process.execPath, [TVISOR_CLI, "run", "--mem", "128M", ...extra], {
      input: "uname -m\necho $((6*7))\ntty\npoweroff\n",
      encoding: "utf8",
      timeout: HANG_GUARD_MS,
    });
    assert.equal(r.status, 0, `${r.stderr}\n${r.stdout.slice(-1500)}`);
    assert.match(r.stdout, /uname -m\r?\nriscv64/);
    assert.match(r.stdout, /\r?\n42\r?\n/);
    assert.ok(r.stdout.includes(`\n${tty}`), `tty should print ${tty}: ${r.stdout.slice(-600)}`);
    // Status 0 is the guest's poweroff; the kernel's last line goes out on its console, which for hvc1
    // is gone by then, so only the UART run shows it.
    assert.match(r.stdout, tty === "/dev/ttyS0" ? /reboot: Power down/ : /Requesting system poweroff/);
  });
}
