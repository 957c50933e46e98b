/** Tests for SBI HSM (SBI v2.0 ch. 9) with hostile hart ids, start addresses and suspend types. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  SBI_ERR_ALREADY_AVAILABLE,
  SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NOT_SUPPORTED,
  SBI_EXT_HSM,
} from "./sbi-spec.js";
import { sbiMachine, TEST_RAM_BASE, TEST_RAM_SIZE } from "./testing.js";

const M64 = (1n << 64n) - 1n;
const BASE = BigInt(TEST_RAM_BASE);
const END = BigInt(TEST_RAM_BASE + TEST_RAM_SIZE);

test("hart_start/get_status: hart ids out of range are INVALID_PARAM", () => {
  const { harts, call } = sbiMachine(2);
  harts[1].stopped = true;
  for (const id of [2n, 0xffffffffn, M64, 1n << 63n, BigInt(Number.MAX_SAFE_INTEGER) + 1n]) {
    assert.equal(call(harts[0], SBI_EXT_HSM, 0, id, BASE, 0n).error, BigInt(SBI_ERR_INVALID_PARAM));
    assert.equal(call(harts[0], SBI_EXT_HSM, 2, id).error, BigInt(SBI_ERR_INVALID_PARAM));
  }
  assert.equal(harts[1].stopped, true);
});

test("hart_start: addresses outside RAM, odd, or too close to its end are INVALID_ADDRESS and change nothing", () => {
  const { harts, call } = sbiMachine(2);
  const t = harts[1];
  t.stopped = true;
  t.pc = 0x1234;
  t.priv = 3;
  for (const addr of [0n, BASE - 2n, BASE + 1n, BASE + 3n, END, END - 2n, M64, M64 - 1n, 1n << 63n]) {
    assert.equal(
      call(harts[0], SBI_EXT_HSM, 0, 1n, addr, 7n).error,
      BigInt(SBI_ERR_INVALID_ADDRESS),
      `0x${addr.toString(16)}`,
    );
  }
  assert.deepEqual([t.stopped, t.pc, t.priv, t.getX(10)], [true, 0x1234, 3, 0n]);
  // The last whole instruction slot in RAM is a valid entry; an opaque of all ones reaches a1 intact.
  assert.equal(call(harts[0], SBI_EXT_HSM, 0, 1n, END - 4n, M64).error, 0n);
  assert.deepEqual(
    [t.stopped, t.pc, t.priv, t.getX(10), t.getX(11)],
    [false, TEST_RAM_BASE + TEST_RAM_SIZE - 4, 1, 1n, -1n],
  );
  assert.equal(call(harts[0], SBI_EXT_HSM, 0, 1n, BASE, 0n).error, BigInt(SBI_ERR_ALREADY_AVAILABLE));
  assert.equal(call(harts[0], SBI_EXT_HSM, 0, 0n, BASE, 0n).error, BigInt(SBI_ERR_ALREADY_AVAILABLE)); // itself
});

test("hart_suspend: reserved types are INVALID_PARAM, non-retentive and platform types NOT_SUPPORTED", () => {
  const { harts, call } = sbiMachine(1);
  const h = harts[0];
  for (const type of [1n, 0x0fffffffn, 0x80000001n, 0x8fffffffn]) {
    assert.equal(call(h, SBI_EXT_HSM, 3, type, BASE, 0n).error, BigInt(SBI_ERR_INVALID_PARAM));
  }
  for (const type of [0x10000000n, 0x7fffffffn, 0x80000000n, 0x90000000n, 0xffffffffn, M64]) {
    assert.equal(call(h, SBI_EXT_HSM, 3, type, M64, M64).error, BigInt(SBI_ERR_NOT_SUPPORTED));
  }
  assert.equal(h.waitingForInterrupt, false);
  assert.equal(call(h, SBI_EXT_HSM, 3, 0n).error, 0n);
  assert.equal(h.waitingForInterrupt, true);
  assert.equal(call(h, SBI_EXT_HSM, 4).error, BigInt(SBI_ERR_NOT_SUPPORTED));
});

test("hart_stop from any hart stops only the caller and does not return a value", () => {
  const { harts, call } = sbiMachine(3);
  const r = call(harts[2], SBI_EXT_HSM, 1, 77n, 55n);
  assert.deepEqual(r, { error: 77n, value: 55n });
  assert.deepEqual(
    harts.map((h) => h.stopped),
    [false, false, true],
  );
});
