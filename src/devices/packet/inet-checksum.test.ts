/** The Internet checksum against published vectors and an independent implementation. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { prng } from "../../base/testing.js";
import { checksumOf, completePartialChecksum, onesSum, setIpv4HeaderChecksum } from "./inet-checksum.js";
import { payloadOf, referenceChecksum, tcpFrame } from "./testing.js";

test("RFC 1071 §3 example: the sum of 0001 f203 f4f5 f6f7 is ddf2, its checksum 220d", () => {
  const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
  assert.equal(checksumOf(onesSum(b, 0, b.length)), 0x220d);
  assert.equal(referenceChecksum(b), 0x220d);
});

test("an IPv4 header's checksum (the textbook 192.168.0.1 → 192.168.0.199 header: b861)", () => {
  const h = Uint8Array.from([
    0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
    0x00, 0xc7,
  ]);
  const f = new Uint8Array(14 + 20);
  f.set(h, 14);
  setIpv4HeaderChecksum(f, 14, 20);
  assert.deepEqual([f[24], f[25]], [0xb8, 0x61]);
});

test("random buffers, odd lengths and offsets included, agree with the reference", () => {
  const next = prng(1071);
  for (let i = 0; i < 300; i++) {
    const len = next() % 1600;
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = next() & 0xff;
    const start = len > 0 ? next() % (len + 1) : 0;
    assert.equal(checksumOf(onesSum(b, start, len)), referenceChecksum(b.subarray(start)), `case ${i}`);
  }
});

test("completing a partial TCP checksum gives the fully checksummed frame", () => {
  for (const version of [4, 6] as const) {
    for (const n of [0, 1, 1447, 1448]) {
      const full = tcpFrame({ version, payload: payloadOf(n) });
      const partial = tcpFrame({ version, payload: payloadOf(n), partial: true });
      const l4 = version === 4 ? 34 : 54;
      assert.notDeepEqual(partial, full);
      assert.equal(completePartialChecksum(partial, l4, 16), true);
      assert.deepEqual(partial, full, `IPv${version}, ${n} payload bytes`);
    }
  }
});

test("a partial checksum whose offsets (guest-controlled) leave the frame is refused untouched", () => {
  const f = tcpFrame({ version: 4, payload: payloadOf(10), partial: true });
  const before = f.slice();
  for (const [start, off] of [
    [f.length, 0],
    [f.length - 1, 0],
    [34, f.length],
    [0xffff, 0xffff],
    [f.length - 2, 1],
  ]) {
    assert.equal(completePartialChecksum(f, start, off), false, `${start}+${off}`);
  }
  assert.deepEqual(f, before);
  assert.equal(completePartialChecksum(f, f.length - 2, 0), true, "the last two bytes are a field in range");
});
