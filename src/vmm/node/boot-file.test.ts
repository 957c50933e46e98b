/** Tests for reading boot files: regular files only, size-capped before any byte is read. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { UserError } from "../../base/errors.js";
import { readBootFile } from "./boot-file.js";

const dir = mkdtempSync(join(tmpdir(), "tvisor-boot-file-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function refuses(path: string, max: number, re: RegExp): Promise<void> {
  await assert.rejects(readBootFile(path, "kernel", max, "the guest's RAM"), (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, re);
    return true;
  });
}

test("reads a regular file whole, up to and including the limit", async () => {
  const p = join(dir, "k");
  writeFileSync(
    p,
    Uint8Array.from({ length: 100_000 }, (_, i) => i & 0xff),
  );
  const b = await readBootFile(p, "kernel", 100_000);
  assert.equal(b.length, 100_000);
  assert.equal(b[99_999], 99_999 & 0xff);
  assert.equal((await readBootFile(join(dir, "k"), "kernel", 1 << 20)).length, 100_000);
});

test("a file over the limit is refused by its size, before it is read", async () => {
  const p = join(dir, "sparse");
  writeFileSync(p, "");
  truncateSync(p, 1 << 30); // 1 GiB sparse: reading it would take a while and all that memory
  await refuses(
    p,
    16 << 20,
    /^kernel: .*sparse is 1073741824 bytes, more than the guest's RAM \(16777216 bytes\)$/,
  );
});

test("devices, directories, FIFOs and missing files are refused with what they are", async () => {
  await refuses("/dev/zero", 1 << 20, /^kernel: \/dev\/zero is a character device, not a regular file$/);
  await refuses(dir, 1 << 20, /is a directory, not a regular file$/);
  await refuses(join(dir, "missing"), 1 << 20, /^kernel: cannot read .*missing: no such file$/);
  const fifo = join(dir, "fifo");
  if (spawnSync("mkfifo", [fifo]).status === 0) {
    // No writer: a blocking open would wait forever; the reader refuses at once.
    await refuses(fifo, 1 << 20, /is a FIFO \(named pipe\), not a regular file$/);
  }
});
