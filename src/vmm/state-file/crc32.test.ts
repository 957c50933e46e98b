/** CRC-32 against the standard check value and zlib's, and incremental use. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32 } from "./crc32.js";

test("crc32: the standard check value and incremental computation", () => {
  const check = new TextEncoder().encode("123456789");
  assert.equal(crc32(check), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(check.subarray(5), crc32(check.subarray(0, 5))), 0xcbf43926);
  const data = new Uint8Array(10007).map((_, i) => (i * 7919) & 0xff);
  for (const n of [0, 1, 3, 4, 5, 1000, 10007]) {
    const part = data.subarray(0, n);
    if (typeof zlibCrc32 === "function") assert.equal(crc32(part), zlibCrc32(part), `length ${n}`);
    assert.equal(crc32(part.subarray(n >> 1), crc32(part.subarray(0, n >> 1))), crc32(part));
  }
});
