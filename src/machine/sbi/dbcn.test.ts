/** Tests for the SBI Debug Console (SBI v2.0 ch. 12) against buffers outside RAM and overflowing lengths. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_EXT_DBCN } from "./sbi-spec.js";
import { sbiMachine, TEST_RAM_BASE, TEST_RAM_SIZE } from "./testing.js";

const END = BigInt(TEST_RAM_BASE + TEST_RAM_SIZE);
const BASE = BigInt(TEST_RAM_BASE);
const INVALID = BigInt(SBI_ERR_INVALID_PARAM);
const M64 = (1n << 64n) - 1n;

test("write: buffers partly or wholly outside RAM, or wrapping past 2^64, are INVALID_PARAM and print nothing", () => {
  const { harts, out, call } = sbiMachine();
  const h = harts[0];
  const bad: Array<[bigint, bigint]> = [
    [1n, BASE - 1n],
    [2n, END - 1n],
    [1n, END],
    [16n, 0n],
    [1n, M64],
    [0x100n, M64 - 0x10n], // addr + len wraps past 2^64
    [M64, BASE], // huge length
    [1n << 63n, BASE],
    [1n, BigInt(Number.MAX_SAFE_INTEGER) + 1n],
  ];
  for (const [n, addr] of bad) {
    assert.equal(
      call(h, SBI_EXT_DBCN, 0, n, addr, 0n).error,
      INVALID,
      `write ${n} at 0x${addr.toString(16)}`,
    );
    assert.equal(call(h, SBI_EXT_DBCN, 1, n, addr, 0n).error, INVALID, `read ${n} at 0x${addr.toString(16)}`);
  }
  assert.equal(out.length, 0);
});

test("RV64: base_addr_hi must be zero (the address is hi << 64 | lo)", () => {
  const { harts, ram, out, call } = sbiMachine();
  ram.u8[0x20] = 0x41;
  assert.deepEqual(call(harts[0], SBI_EXT_DBCN, 0, 1n, BASE + 0x20n, 0n), { error: 0n, value: 1n });
  assert.equal(call(harts[0], SBI_EXT_DBCN, 0, 1n, BASE + 0x20n, 1n).error, INVALID);
  assert.equal(call(harts[0], SBI_EXT_DBCN, 1, 1n, BASE + 0x20n, M64).error, INVALID);
  assert.deepEqual(out, [0x41]);
  // With RAM above 4 GiB, treating base_addr_hi as bits 32..63 (the RV32 layout) would find memory.
  const high = sbiMachine(1, 0x1_0000_0000);
  high.ram.u8[0x20] = 0x42;
  assert.equal(high.call(high.harts[0], SBI_EXT_DBCN, 0, 1n, 0x20n, 1n).error, INVALID);
  assert.equal(high.call(high.harts[0], SBI_EXT_DBCN, 1, 1n, 0x20n, 1n).error, INVALID);
  assert.deepEqual(high.call(high.harts[0], SBI_EXT_DBCN, 0, 1n, 0x1_0000_0020n, 0n), {
    error: 0n,
    value: 1n,
  });
  assert.deepEqual(high.out, [0x42]);
});

test("a buffer ending exactly at the top of RAM works; long writes are short (12.1) and bounded", () => {
  const { harts, ram, out, input, call } = sbiMachine();
  ram.u8.fill(0x61, TEST_RAM_SIZE - 4);
  assert.deepEqual(call(harts[0], SBI_EXT_DBCN, 0, 4n, END - 4n, 0n), { error: 0n, value: 4n });
  const r = call(harts[0], SBI_EXT_DBCN, 0, BigInt(TEST_RAM_SIZE), BASE, 0n);
  assert.equal(r.error, 0n);
  assert.ok(r.value > 0n && r.value <= BigInt(TEST_RAM_SIZE));
  assert.equal(out.length, 4 + Number(r.value));
  // Zero-length at the top edge is a valid empty buffer; reads fill only what input exists.
  assert.deepEqual(call(harts[0], SBI_EXT_DBCN, 0, 0n, END, 0n), { error: 0n, value: 0n });
  input.push(1, 2, 3);
  const before = ram.u8.slice();
  assert.deepEqual(call(harts[0], SBI_EXT_DBCN, 1, 8n, END - 8n, 0n), { error: 0n, value: 3n });
  assert.deepEqual([...ram.u8.subarray(TEST_RAM_SIZE - 8, TEST_RAM_SIZE - 5)], [1, 2, 3]);
  assert.deepEqual(ram.u8.subarray(0, TEST_RAM_SIZE - 8), before.subarray(0, TEST_RAM_SIZE - 8));
});

test("write_byte sends the low byte of any value; unknown functions are NOT_SUPPORTED", () => {
  const { harts, out, call } = sbiMachine();
  assert.equal(call(harts[1], SBI_EXT_DBCN, 2, M64).error, 0n);
  assert.equal(call(harts[1], SBI_EXT_DBCN, 2, 0x1234n).error, 0n);
  assert.deepEqual(out, [0xff, 0x34]);
  assert.equal(call(harts[1], SBI_EXT_DBCN, 3).error, BigInt(SBI_ERR_NOT_SUPPORTED));
  assert.equal(call(harts[1], SBI_EXT_DBCN, 0xffffffff).error, BigInt(SBI_ERR_NOT_SUPPORTED));
});
