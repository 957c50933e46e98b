/** Tests for the SBI IPI extension (SBI v2.0 ch. 7) with hostile hart masks. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { CSR_MIP } from "../../isa/riscv/csr-names.js";
import { SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_EXT_IPI } from "./sbi-spec.js";
import { sbiMachine } from "./testing.js";

const M64 = (1n << 64n) - 1n;
const ssip = (h: { readCsr(n: number): bigint }) => (h.readCsr(CSR_MIP) & 2n) !== 0n;

test("invalid masks raise nothing at all, even when some selected harts exist", () => {
  const { harts, call } = sbiMachine(4);
  for (const [mask, base] of [
    [M64, 0n],
    [0b11n, 3n],
    [1n, 4n],
    [1n, 1n << 63n],
    [1n << 63n, 1n],
  ]) {
    assert.equal(call(harts[0], SBI_EXT_IPI, 0, mask, base).error, BigInt(SBI_ERR_INVALID_PARAM));
  }
  assert.deepEqual(harts.map(ssip), [false, false, false, false]);
});

test("all-ones base reaches every hart; an empty mask is a successful no-op", () => {
  const { harts, call } = sbiMachine(4);
  assert.equal(call(harts[3], SBI_EXT_IPI, 0, 0n, 1n << 62n).error, 0n);
  assert.deepEqual(harts.map(ssip), [false, false, false, false]);
  assert.equal(call(harts[3], SBI_EXT_IPI, 0, 0xdeadn, M64).error, 0n);
  assert.deepEqual(harts.map(ssip), [true, true, true, true]);
  assert.equal(call(harts[0], SBI_EXT_IPI, 1, 1n, 0n).error, BigInt(SBI_ERR_NOT_SUPPORTED));
});
