/** Tests for the SBI Timer extension (SBI v2.0 ch. 6): any 64-bit deadline is stored exactly in stimecmp. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CSR_STIMECMP } from "../../isa/riscv/csr-names.js";
import { SBI_ERR_NOT_SUPPORTED, SBI_EXT_TIME } from "./sbi-spec.js";
import { sbiMachine } from "./testing.js";

test("set_timer takes any 64-bit value; other functions are NOT_SUPPORTED", () => {
  const { harts, call } = sbiMachine();
  for (const v of [0n, 1n << 63n, (1n << 64n) - 1n, BigInt(Number.MAX_SAFE_INTEGER) + 3n]) {
    assert.equal(call(harts[1], SBI_EXT_TIME, 0, v).error, 0n);
    assert.equal(harts[1].readCsr(CSR_STIMECMP), v);
  }
  assert.equal(harts[0].csr.has(CSR_STIMECMP), false);
  assert.equal(call(harts[0], SBI_EXT_TIME, 1, 5n).error, BigInt(SBI_ERR_NOT_SUPPORTED));
  assert.equal(harts[0].csr.has(CSR_STIMECMP), false);
});
