/** Boot test: real M-mode firmware (OpenSBI fw_jump and fw_dynamic from Debian's opensbi package). */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages, OPENSBI_DIR } from "./guest-session.js";

for (const fw of ["fw_jump.bin", "fw_dynamic.bin"]) {
  test(`OpenSBI ${fw} boots the kernel`, { timeout: BOOT_TEST_TIMEOUT_MS }, async (t) => {
    const why = missingImages();
    if (why) return t.skip(why);
    const bios = join(OPENSBI_DIR, fw);
    if (!existsSync(bios)) return t.skip(`${bios} missing (apt-get install opensbi)`);
    const s = new GuestSession({ bios });
    try {
      await s.waitForShell();
      assert.match(s.console.output, /OpenSBI v\d/);
      assert.match(s.console.output, /Platform Name\s*: riscv-virtio,qemu/);
      // Linux now talks to OpenSBI, not to the built-in SBI.
      assert.match(s.console.output, /SBI implementation ID=0x1 /);
      assert.equal((await s.run("uname -m")).trim(), "riscv64");
      s.type("poweroff\n");
      assert.deepEqual(await s.exit, { kind: "poweroff" });
    } finally {
      await s.close();
    }
  });
}

test("OpenSBI fw_jump.elf (ELF firmware, as QEMU's -bios takes it) boots 2 harts", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const bios = join(OPENSBI_DIR, "fw_jump.elf");
  if (!existsSync(bios)) return t.skip(`${bios} missing (apt-get install opensbi)`);
  const s = new GuestSession({ bios, cpus: 2 });
  try {
    await s.waitForShell();
    assert.match(s.console.output, /OpenSBI v\d/);
    assert.match(s.console.output, /Platform HART Count\s*: 2/);
    assert.equal((await s.run("nproc")).trim(), "2");
    s.type("poweroff\n");
    assert.deepEqual(await s.exit, { kind: "poweroff" });
  } finally {
    await s.close();
  }
});
