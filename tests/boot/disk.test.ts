/** Boot test: a file written to a virtio-blk disk (raw and qcow2) survives power-off and a second boot. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { DiskSpec } from "../../src/vmm/vm-spec.js";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages } from "./guest-session.js";

async function writeThenRead(disk: DiskSpec): Promise<void> {
  const token = `tvisor-${Math.random().toString(36).slice(2)}`;
  const first = new GuestSession({ disks: [disk] });
  try {
    await first.waitForShell();
    assert.match(await first.run("cat /sys/block/vda/size"), /^32768$/m); // 16 MiB in 512-byte sectors
    await first.run("mkfs.ext2 -q /dev/vda");
    await first.run(`mount -t ext2 /dev/vda /mnt && echo ${token} > /mnt/hello.txt && sync && umount /mnt`);
    first.type("poweroff\n");
    assert.deepEqual(await first.exit, { kind: "poweroff" });
  } finally {
    await first.close();
  }
  const second = new GuestSession({ disks: [disk] });
  try {
    await second.waitForShell();
    assert.equal((await second.run("mount -t ext2 /dev/vda /mnt && cat /mnt/hello.txt")).trim(), token);
    second.type("poweroff\n");
    assert.deepEqual(await second.exit, { kind: "poweroff" });
  } finally {
    await second.close();
  }
}

test("virtio-blk raw disk: mkfs, write, power off, boot again, read back", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), "tvisor-disk-"));
  try {
    const path = join(dir, "disk.raw");
    writeFileSync(path, new Uint8Array(0));
    spawnSync("truncate", ["-s", "16M", path]);
    await writeThenRead({ path, format: "raw", readOnly: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("virtio-blk qcow2 disk (made by qemu-img) round trip", { timeout: BOOT_TEST_TIMEOUT_MS }, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const probe = spawnSync("qemu-img", ["--version"]);
  if (probe.error || probe.status !== 0) return t.skip("qemu-img not installed");
  const dir = mkdtempSync(join(tmpdir(), "tvisor-qcow2-"));
  try {
    const path = join(dir, "disk.qcow2");
    assert.equal(spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", path, "16M"]).status, 0);
    await writeThenRead({ path, format: "qcow2", readOnly: false });
    const check = spawnSync("qemu-img", ["check", path]);
    assert.equal(check.status, 0, check.stdout.toString() + check.stderr.toString());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a read-only disk refuses writes in the guest", { timeout: BOOT_TEST_TIMEOUT_MS }, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), "tvisor-ro-"));
  try {
    const path = join(dir, "ro.raw");
    writeFileSync(path, new Uint8Array(0));
    spawnSync("truncate", ["-s", "16M", path]);
    const s = new GuestSession({ disks: [{ path, readOnly: true }] });
    try {
      await s.waitForShell();
      assert.equal((await s.run("cat /sys/block/vda/ro")).trim(), "1");
      s.type("poweroff\n");
      assert.deepEqual(await s.exit, { kind: "poweroff" });
    } finally {
      await s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
