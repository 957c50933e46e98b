/** Tests for SBI SRST (SBI v2.0 ch. 10): unknown reset types and reasons never reach the platform. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_EXT_SRST } from "./sbi-spec.js";
import { sbiMachine } from "./testing.js";

const M64 = (1n << 64n) - 1n;

test("reserved types are INVALID_PARAM, vendor types NOT_SUPPORTED, and neither resets", () => {
  const { harts, resets, call } = sbiMachine();
  for (const type of [3n, 0xeffffffn, 0xefffffffn, 0x1_0000_0000n, M64, 1n << 63n]) {
    assert.equal(call(harts[0], SBI_EXT_SRST, 0, type, 0n).error, BigInt(SBI_ERR_INVALID_PARAM));
  }
  for (const type of [0xf0000000n, 0xffffffffn]) {
    assert.equal(call(harts[0], SBI_EXT_SRST, 0, type, 0n).error, BigInt(SBI_ERR_NOT_SUPPORTED));
  }
  for (const reason of [2n, 0xdfffffffn, 0x1_0000_0000n, M64]) {
    assert.equal(call(harts[0], SBI_EXT_SRST, 0, 0n, reason).error, BigInt(SBI_ERR_INVALID_PARAM));
  }
  assert.equal(call(harts[0], SBI_EXT_SRST, 1, 0n, 0n).error, BigInt(SBI_ERR_NOT_SUPPORTED));
  assert.deepEqual(resets, []);
});

test("valid requests, including vendor reasons, reach the platform from any hart", () => {
  const { harts, resets, call } = sbiMachine(2);
  call(harts[1], SBI_EXT_SRST, 0, 2n, 0xe0000000n);
  call(harts[0], SBI_EXT_SRST, 0, 0n, 1n);
  assert.deepEqual(resets, [
    { type: "warm-reboot", reason: 0xe0000000 },
    { type: "shutdown", reason: 1 },
  ]);
});
