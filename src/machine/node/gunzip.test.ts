/** The host gunzip used for kernels and initramfs: round trip, corrupt input, and the gzip-bomb cap. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { UserError } from "../../base/errors.js";
import { makeGunzip, nodeGunzip } from "./gunzip.js";

test("decompresses gzip data", async () => {
  const data = new TextEncoder().encode("tvisor ".repeat(1000));
  assert.deepEqual(await nodeGunzip(gzipSync(data)), data);
});

test("rejects corrupt data with a UserError in words", async () => {
  await assert.rejects(
    nodeGunzip(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3])),
    (e: unknown) => e instanceof UserError && /^gzip data is corrupt \(.+\)$/.test(e.message),
  );
});

test("refuses output beyond the cap instead of exhausting memory", async () => {
  const bomb = gzipSync(new Uint8Array(8 * 1024 * 1024));
  assert.ok(bomb.length < 64 * 1024);
  await assert.rejects(
    makeGunzip(1024 * 1024)(bomb),
    (e: unknown) =>
      e instanceof UserError && e.message === "gzip data decompresses to more than 1048576 bytes",
  );
  // The caller's limit (the guest's RAM) applies when it is tighter than the decompressor's own.
  await assert.rejects(nodeGunzip(bomb, 4096), /more than 4096 bytes/);
  assert.equal((await nodeGunzip(bomb, 8 * 1024 * 1024)).length, 8 * 1024 * 1024);
});
