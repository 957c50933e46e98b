/** Sv39/Sv48 translation: superpages, permission rules, A/D updates and canonical-address checks. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { CSR_SATP } from "../isa/riscv/csr-names.js";
import {
  ACCESS_FETCH,
  ACCESS_LOAD,
  ACCESS_STORE,
  MSTATUS_MXR,
  MSTATUS_SUM,
  PRIV_S,
  PRIV_U,
} from "./csr-bits.js";
import { FAULT_ACCESS, FAULT_PAGE, translate } from "./mmu.js";
import { testHart } from "./testing.js";

const BASE = 0x80000000;
const V = 1;
const R = 2;
const W = 4;
const X = 8;
const U = 16;
const A = 64;
const D = 128;

function setup() {
  // As firmware does: one PMP entry granting S and U all of memory (NAPOT, all ones), or S/U accesses fail.
  const { hart, ram } = testHart({ ramBytes: 16 * 1024 * 1024, openPmp: true });
  const pte = (tableAddr: number, index: number, ppnAddr: number, flags: number): void => {
    const v = BigInt(ppnAddr / 4096) << 10n;
    ram.view.setBigUint64(tableAddr - BASE + index * 8, v | BigInt(flags), true);
  };
  const readPte = (tableAddr: number, index: number): number =>
    Number(ram.view.getBigUint64(tableAddr - BASE + index * 8, true) & 0xffn);
  return { ram, hart, pte, readPte };
}

test("Sv39 4 KiB page with hardware A/D update", () => {
  const { hart, pte, readPte } = setup();
  const root = BASE + 0x1000;
  const l1 = BASE + 0x2000;
  const l0 = BASE + 0x3000;
  pte(root, 0, l1, V);
  pte(l1, 0, l0, V);
  pte(l0, 5, BASE + 0x10000, V | R | W);
  hart.writeCsr(CSR_SATP, (8n << 60n) | BigInt(root / 4096));
  assert.equal(translate(hart, 0x5123, ACCESS_LOAD, PRIV_S), BASE + 0x10123);
  assert.equal(readPte(l0, 5) & (A | D), A);
  assert.equal(translate(hart, 0x5008, ACCESS_STORE, PRIV_S), BASE + 0x10008);
  assert.equal(readPte(l0, 5) & (A | D), A | D);
  assert.equal(translate(hart, 0x5000, ACCESS_FETCH, PRIV_S), FAULT_PAGE, "not executable");
  assert.equal(translate(hart, 0x6000, ACCESS_LOAD, PRIV_S), FAULT_PAGE, "invalid PTE");
});

test("Sv39 megapage and gigapage, misaligned superpage faults, non-canonical faults", () => {
  const { hart, pte } = setup();
  const root = BASE + 0x1000;
  const l1 = BASE + 0x2000;
  pte(root, 511, l1, V);
  pte(l1, 511, BASE, V | R | X | A | D);
  pte(root, 2, BASE, V | R | W | A | D);
  pte(root, 3, BASE + 0x200000, V | R | A); // gigapage PPN not 1 GiB-aligned
  hart.writeCsr(CSR_SATP, (8n << 60n) | BigInt(root / 4096));
  assert.equal(translate(hart, -0x200000 + 0x1234, ACCESS_FETCH, PRIV_S), BASE + 0x1234);
  assert.equal(translate(hart, 0x80000000 + 0x345678, ACCESS_LOAD, PRIV_S), BASE + 0x345678);
  assert.equal(translate(hart, 0xc0000000, ACCESS_LOAD, PRIV_S), FAULT_PAGE);
  assert.equal(
    translate(hart, 2 ** 38, ACCESS_LOAD, PRIV_S),
    FAULT_PAGE,
    "bit 38 set without sign extension",
  );
});

test("U, SUM and MXR permission rules", () => {
  const { hart, pte } = setup();
  const root = BASE + 0x1000;
  pte(root, 0, BASE + 0x40000000 - 0x40000000, V | R | W | U | A | D); // user gigapage at VA 0
  pte(root, 1, BASE, V | X | A); // execute-only gigapage at VA 1 GiB
  hart.writeCsr(CSR_SATP, (8n << 60n) | BigInt(root / 4096));
  assert.equal(translate(hart, 0x1000, ACCESS_LOAD, PRIV_U), BASE + 0x1000);
  assert.equal(translate(hart, 0x1000, ACCESS_LOAD, PRIV_S), FAULT_PAGE, "S cannot read U pages without SUM");
  hart.mstatus |= MSTATUS_SUM;
  assert.equal(translate(hart, 0x1000, ACCESS_LOAD, PRIV_S), BASE + 0x1000);
  assert.equal(translate(hart, 0x1000, ACCESS_FETCH, PRIV_S), FAULT_PAGE, "S never executes U pages");
  assert.equal(translate(hart, 0x40000000, ACCESS_LOAD, PRIV_S), FAULT_PAGE, "execute-only");
  hart.mstatus |= MSTATUS_MXR;
  assert.equal(translate(hart, 0x40000000, ACCESS_LOAD, PRIV_S), BASE);
  assert.equal(translate(hart, 0x40000000, ACCESS_LOAD, PRIV_U), FAULT_PAGE, "U cannot use S pages");
});

test("Sv48 walk and bare mode", () => {
  const { hart, pte } = setup();
  const root = BASE + 0x1000;
  const l2 = BASE + 0x2000;
  pte(root, 256, l2, V); // VA bit 47 set: the upper half
  pte(l2, 0, BASE, V | R | A);
  hart.writeCsr(CSR_SATP, (9n << 60n) | BigInt(root / 4096));
  assert.equal(translate(hart, -(2 ** 47) + 0x42, ACCESS_LOAD, PRIV_S), BASE + 0x42);
  hart.writeCsr(CSR_SATP, 0n);
  assert.equal(translate(hart, BASE + 8, ACCESS_LOAD, PRIV_S), BASE + 8);
  assert.equal(translate(hart, -8, ACCESS_LOAD, PRIV_S), FAULT_ACCESS);
});
