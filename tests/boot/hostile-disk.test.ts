/**
 * Boot test (issue 13, QEMU CVE-2008-2004 class): a guest rewrites the first sector of its raw disk, given
 * without format=, with a qcow2 header naming a host file as its backing file. The write must be refused,
 * and a second boot with the same command line must still see the raw disk, not the host file.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createImageFile } from "../../src/storage/node/create-image.js";
import { probeImageFile } from "../../src/storage/node/open-image.js";
import { GuestSession, missingImages } from "./guest-session.js";

/** Shell commands that write `bytes` to /dev/vda at their offsets, one dd per run of nonzero bytes. */
function guestWrites(bytes: Uint8Array): string[] {
  const cmds: string[] = [];
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i] === 0) {
      i++;
      continue;
    }
    const start = i;
    // A run: nonzero bytes with gaps of fewer than 8 zeroes, at most 48 bytes per command line.
    let end = i;
    while (end < bytes.length && end - start < 48) {
      if (bytes[end] !== 0) {
        end++;
        continue;
      }
      let z = end;
      while (z < bytes.length && bytes[z] === 0 && z - end < 8) z++;
      if (z - end >= 8 || z >= bytes.length) break;
      end = z;
    }
    const octal = [...bytes.subarray(start, end)].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("");
    // conv=fsync: the write reaches the device now, so its status is dd's.
    cmds.push(
      `printf '${octal}' | dd of=/dev/vda bs=1 seek=${start} conv=notrunc,fsync 2>/dev/null; echo rc=$?`,
    );
    i = end;
  }
  return cmds;
}

test("a guest that writes a qcow2 header naming a host file onto its probed raw disk reads nothing of it", {
  timeout: 1_200_000,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), "tvisor-hostile-disk-"));
  try {
    const marker = `SECRET-${randomBytes(8).toString("hex")}`;
    const secret = join(dir, "host-secret.txt");
    writeFileSync(secret, `${marker}\n`.repeat(256));
    const disk = join(dir, "disk.img");
    writeFileSync(disk, new Uint8Array(4 << 20));
    // The header the guest writes: a 1 MiB qcow2 with 512-byte clusters over the secret, as raw.
    const evilPath = join(dir, "evil.qcow2");
    await createImageFile(evilPath, {
      format: "qcow2",
      size: 1 << 20,
      clusterSize: 512,
      backingFile: secret,
      backingFormat: "raw",
    });
    const evil = new Uint8Array(readFileSync(evilPath));
    rmSync(evilPath);
    // The same command line both times: the disk without format=.
    const spec = { path: disk, readOnly: false };

    const first = new GuestSession({ disks: [spec] });
    try {
      await first.waitForShell();
      const results: string[] = [];
      for (const cmd of guestWrites(evil)) results.push((await first.run(cmd, 180_000)).trim());
      // The writes that land in sector 0 fail in the guest: the host refused them.
      assert.ok(results.length > 0);
      assert.match(results[0]!, /rc=[1-9]/, `the first write (sector 0) must fail: ${results.join(" ")}`);
      first.type("poweroff\n");
      assert.deepEqual(await first.exit, { kind: "poweroff" });
    } finally {
      await first.close();
    }
    // On the host: no qcow2 header reached the file, so the next probe still says raw.
    const head = readFileSync(disk).subarray(0, 512);
    assert.notEqual(head.readUInt32BE(0), 0x514649fb, "the qcow2 magic reached the disk");
    assert.equal(await probeImageFile(disk), "raw");

    const second = new GuestSession({ disks: [spec] });
    try {
      await second.waitForShell();
      // Still the 4 MiB raw disk (8192 sectors), not the 1 MiB qcow2 the guest described.
      assert.equal((await second.run("cat /sys/block/vda/size")).trim(), "8192");
      const hits = await second.run(`dd if=/dev/vda bs=65536 2>/dev/null | grep -c ${marker}`, 180_000);
      assert.equal(hits.trim(), "0", "the host file's contents are readable in the guest");
      second.type("poweroff\n");
      assert.deepEqual(await second.exit, { kind: "poweroff" });
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
