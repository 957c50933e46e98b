/** PMP (privileged spec 3.7): range decoding, priority, M-mode rules, locking, and use in translation. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { CSR_PMPADDR0, CSR_PMPCFG0 } from "../isa/riscv/csr-names.js";
import { ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE, PRIV_M, PRIV_S, PRIV_U } from "./csr-bits.js";
import type { Hart } from "./hart.js";
import { pmpAllows } from "./pmp.js";
import { testHart } from "./testing.js";

const BASE = 0x80000000;
const R = 1;
const W = 2;
const X = 4;
const TOR = 1 << 3;
const NA4 = 2 << 3;
const NAPOT = 3 << 3;
const L = 0x80;

function hart(): Hart {
  return testHart().hart;
}
const cfg = (h: Hart, bytes: number[]) =>
  h.writeCsr(
    CSR_PMPCFG0,
    bytes.reduce((v, b, i) => v | (BigInt(b) << BigInt(8 * i)), 0n),
  );

test("no entry matching: M passes, S and U fail", () => {
  const h = hart();
  assert.equal(pmpAllows(h, BASE, 4, ACCESS_LOAD, PRIV_M), true);
  assert.equal(pmpAllows(h, BASE, 4, ACCESS_LOAD, PRIV_S), false);
  assert.equal(pmpAllows(h, BASE, 4, ACCESS_LOAD, PRIV_U), false);
});

test("TOR, NA4 and NAPOT ranges with lowest-entry priority", () => {
  const h = hart();
  h.writeCsr(CSR_PMPADDR0, BigInt(BASE + 0x1000) >> 2n); // entry 0 TOR: [0, BASE+0x1000) read-only
  h.writeCsr(CSR_PMPADDR0 + 1, BigInt(BASE + 0x2000) >> 2n); // entry 1 NA4 at BASE+0x2000: execute only
  h.writeCsr(CSR_PMPADDR0 + 2, (BigInt(BASE) >> 2n) | 0x3ffffn); // entry 2 NAPOT: 2^21 bytes at BASE, RW
  cfg(h, [TOR | R, NA4 | X, NAPOT | R | W]);
  assert.equal(pmpAllows(h, BASE + 0x800, 8, ACCESS_LOAD, PRIV_S), true);
  assert.equal(pmpAllows(h, BASE + 0x800, 8, ACCESS_STORE, PRIV_S), false, "entry 0 wins over entry 2");
  assert.equal(pmpAllows(h, BASE + 0xffc, 8, ACCESS_LOAD, PRIV_S), false, "straddles entry 0's end");
  assert.equal(pmpAllows(h, BASE + 0x2000, 4, ACCESS_FETCH, PRIV_U), true);
  assert.equal(pmpAllows(h, BASE + 0x2000, 4, ACCESS_LOAD, PRIV_U), false);
  assert.equal(pmpAllows(h, BASE + 0x3000, 8, ACCESS_STORE, PRIV_S), true);
  assert.equal(pmpAllows(h, BASE + 0x200000, 8, ACCESS_LOAD, PRIV_S), false, "past the NAPOT region");
  assert.equal(pmpAllows(h, BASE + 0x800, 8, ACCESS_STORE, PRIV_M), true, "M ignores unlocked entries");
});

test("locked entries bind M-mode and ignore writes; a locked TOR locks the address below it", () => {
  const h = hart();
  h.writeCsr(CSR_PMPADDR0, BigInt(BASE) >> 2n);
  h.writeCsr(CSR_PMPADDR0 + 1, BigInt(BASE + 0x1000) >> 2n);
  cfg(h, [0, TOR | R | L]);
  assert.equal(pmpAllows(h, BASE + 0x10, 4, ACCESS_STORE, PRIV_M), false);
  assert.equal(pmpAllows(h, BASE + 0x10, 4, ACCESS_LOAD, PRIV_M), true);
  h.writeCsr(CSR_PMPADDR0, 0n);
  h.writeCsr(CSR_PMPADDR0 + 1, 0n);
  assert.equal(h.readCsr(CSR_PMPADDR0), BigInt(BASE) >> 2n);
  assert.equal(h.readCsr(CSR_PMPADDR0 + 1), BigInt(BASE + 0x1000) >> 2n);
  cfg(h, [0, 0]);
  assert.equal((h.readCsr(CSR_PMPCFG0)! >> 8n) & 0xffn, BigInt(TOR | R | L));
});

test("all-ones NAPOT covers the whole address space", () => {
  const h = hart();
  h.writeCsr(CSR_PMPADDR0, (1n << 54n) - 1n);
  cfg(h, [NAPOT | R | W | X]);
  assert.equal(pmpAllows(h, 0, 8, ACCESS_LOAD, PRIV_U), true);
  assert.equal(pmpAllows(h, 2 ** 50, 8, ACCESS_STORE, PRIV_S), true);
});
