/**
 * Boot test: save a running guest to a state file and restore it into a new VirtualMachine. Its shell
 * continues with its earlier state (a shell variable, a background loop that goes on counting), and
 * damaged copies of the file are refused with one line while the file itself stays untouched.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readStateFileHeader, restoreVmFromFile, saveVmToFile } from "../../src/vmm/node/state-file.js";
import { StateFileError } from "../../src/vmm/state-file/errors.js";
import { GuestSession, missingImages } from "./guest-session.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("a running guest is saved to a file and restored: the shell and a counting loop continue", {
  timeout: 300_000,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), "tvisor-state-boot-"));
  const path = join(dir, "guest.tvstate");
  try {
    const a = new GuestSession();
    let before: number;
    try {
      await a.waitForShell();
      await a.run("MARK=kept-across-restore; cd /tmp");
      // A background loop that counts into a file, a tick every 0.1 s of guest time.
      await a.run("(i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done) & true");
      await a.run("sleep 1");
      before = Number((await a.run("cat /tmp/count")).trim());
      assert.ok(before > 0, `counter at ${before}`);
      a.vm.stop();
      assert.deepEqual(await a.exit, { kind: "stopped" });
      const saved = await saveVmToFile(a.vm, path);
      // 128 MiB of RAM, mostly zero pages: the file holds a fraction of it.
      assert.ok(saved.ramPagesStored < saved.ramPagesTotal, JSON.stringify(saved));
      assert.equal(saved.bytes, readFileSync(path).length);
    } finally {
      await a.close();
    }
    const header = await readStateFileHeader(path);
    assert.equal(header.spec.memBytes, 128 << 20);

    const original = new Uint8Array(readFileSync(path));
    const digest = sha(original);
    // Damaged copies: one line, a typed error, and the original untouched.
    const truncated = join(dir, "truncated.tvstate");
    writeFileSync(truncated, original.subarray(0, Math.floor(original.length / 2)));
    const flipped = join(dir, "flipped.tvstate");
    const f = original.slice();
    f[Math.floor(f.length / 3)] ^= 0x10;
    writeFileSync(flipped, f);
    for (const [p, re] of [
      [truncated, /^state file is truncated: .*truncated\.tvstate: /],
      [flipped, /^state file is corrupt: .*flipped\.tvstate: .*checksum/],
    ] as const) {
      const b = new GuestSession({ deferStart: true });
      await assert.rejects(
        restoreVmFromFile(p, b.host),
        (e: unknown) => e instanceof StateFileError && re.test(e.message) && !e.message.includes("\n"),
      );
      await b.close();
    }
    assert.equal(sha(new Uint8Array(readFileSync(path))), digest, "the state file changed");

    // Restore into a new VirtualMachine on a new console.
    const b = new GuestSession({ deferStart: true });
    try {
      await b.restoreFromFile(path);
      b.start();
      b.type("\n");
      assert.equal((await b.run("echo $MARK; pwd")).trim(), "kept-across-restore\n/tmp");
      const first = Number((await b.run("cat /tmp/count")).trim());
      assert.ok(first >= before, `counter went back from ${before} to ${first}`);
      await b.run("sleep 1");
      const later = Number((await b.run("cat /tmp/count")).trim());
      assert.ok(later > first, `counter stopped at ${first} (then ${later})`);
      b.type("poweroff\n");
      assert.deepEqual(await b.exit, { kind: "poweroff" });
    } finally {
      await b.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
