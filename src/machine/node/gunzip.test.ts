/** The host gunzip used for kernels and initramfs: round trip, corrupt input, and the gzip-bomb cap. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { makeGunzip, nodeGunzip } from "./gunzip.js";

test("decompresses gzip data", async () => {
  const data = new TextEncoder().encode("tvisor ".repeat(1000));
  assert.deepEqual(await nodeGunzip(gzipSync(data)), data);
});

test("rejects corrupt data", async () => {
  await assert.rejects(nodeGunzip(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3])));
});

test("refuses output beyond the cap instead of exhausting memory", async () => {
  const bomb = gzipSync(new Uint8Array(8 * 1024 * 1024));
  assert.ok(bomb.length < 64 * 1024);
  await assert.rejects(
    makeGunzip(1024 * 1024)(bomb),
    /Cannot create a Buffer larger|maxOutputLength|larger than/i,
  );
});
