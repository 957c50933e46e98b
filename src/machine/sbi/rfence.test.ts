/** Tests for SBI RFENCE (SBI v2.0 ch. 8): hostile masks and ranges, HFENCE functions. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_EXT_RFENCE } from "./sbi-spec.js";
import { sbiMachine } from "./testing.js";

const M64 = (1n << 64n) - 1n;

test("any range, including all ones and ones wrapping 2^64, flushes the selected harts", () => {
  const { harts, call } = sbiMachine(2);
  const ranges: Array<[bigint, bigint]> = [
    [0n, 0n],
    [M64, M64],
    [M64 - 0xfffn, 0x2000n],
    [1n << 63n, 1n << 63n],
  ];
  for (const [start, size] of ranges) {
    assert.equal(call(harts[0], SBI_EXT_RFENCE, 1, 0b10n, 0n, start, size).error, 0n);
    assert.equal(call(harts[0], SBI_EXT_RFENCE, 2, 0b10n, 0n, start, size, M64).error, 0n);
  }
  assert.deepEqual(
    harts.map((h) => h.flushes),
    [0, 8],
  );
});

test("bad masks flush nothing; HFENCE and unknown functions are NOT_SUPPORTED", () => {
  const { harts, call } = sbiMachine(2);
  assert.equal(call(harts[0], SBI_EXT_RFENCE, 0, 0b111n, 0n).error, BigInt(SBI_ERR_INVALID_PARAM));
  assert.equal(call(harts[0], SBI_EXT_RFENCE, 1, 1n, 2n, 0n, M64).error, BigInt(SBI_ERR_INVALID_PARAM));
  for (const fid of [3, 4, 5, 6, 7, 0xffffffff]) {
    assert.equal(call(harts[0], SBI_EXT_RFENCE, fid, 1n, 0n).error, BigInt(SBI_ERR_NOT_SUPPORTED));
  }
  assert.deepEqual(
    harts.map((h) => h.flushes),
    [0, 0],
  );
  assert.equal(call(harts[0], SBI_EXT_RFENCE, 0, 0n, M64).error, 0n);
  assert.deepEqual(
    harts.map((h) => h.flushes),
    [1, 1],
  );
});
