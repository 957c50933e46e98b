/** Tests for the SBI Base extension (SBI v2.0 ch. 4) with hostile probe arguments. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SBI_ERR_NOT_SUPPORTED, SBI_EXT_BASE, SBI_EXT_DBCN, SBI_SPEC_VERSION } from "./sbi-spec.js";
import { sbiMachine } from "./testing.js";

test("probe answers 0 for unknown, out-of-range and sign-extended EIDs, 1 for implemented ones", () => {
  const { harts, call } = sbiMachine();
  const h = harts[0];
  assert.deepEqual(call(h, SBI_EXT_BASE, 3, BigInt(SBI_EXT_DBCN)), { error: 0n, value: 1n });
  assert.deepEqual(call(h, SBI_EXT_BASE, 0), { error: 0n, value: BigInt(SBI_SPEC_VERSION) });
  for (const eid of [0x504d55n, 0xffffffffn, 0x1_0000_0010n, (1n << 64n) - 1n, 1n << 63n]) {
    assert.deepEqual(call(h, SBI_EXT_BASE, 3, eid), { error: 0n, value: 0n }, `eid 0x${eid.toString(16)}`);
  }
});

test("machine ids are 0; unknown function ids are NOT_SUPPORTED", () => {
  const { harts, call } = sbiMachine();
  for (const fid of [4, 5, 6]) assert.deepEqual(call(harts[1], SBI_EXT_BASE, fid), { error: 0n, value: 0n });
  for (const fid of [7, 0x7fffffff, 0xffffffff]) {
    assert.equal(call(harts[0], SBI_EXT_BASE, fid).error, BigInt(SBI_ERR_NOT_SUPPORTED));
  }
});
