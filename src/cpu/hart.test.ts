/** Instruction-level checks of the hart that need no assembler: hand-encoded words run from RAM. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { CSR_MIP, CSR_MTVEC } from "../isa/riscv/csr-names.js";
import type { Hart } from "./hart.js";
import { testHart } from "./testing.js";

const BASE = 0x80000000;

function hartWith(words: number[]): Hart {
  return testHart({ ramBytes: 1 << 16, program: words }).hart;
}

/** csrrsi x0, csr, uimm */
const csrrsi = (csr: number, uimm: number) => (csr << 20) | (uimm << 15) | (6 << 12) | 0x73;

test("CSRRS on mip does not latch the PLIC's SEIP level into the software bit (spec 3.1.9)", () => {
  const h = hartWith([csrrsi(CSR_MIP, 2)]); // set SSIP, as firmware does to forward an IPI
  h.setMip(9, true); // the PLIC raises SEIP
  assert.equal(h.run(1), 1);
  assert.equal(h.readCsr(CSR_MIP)! & 0x202n, 0x202n);
  h.setMip(9, false); // the PLIC's request is claimed and withdrawn
  assert.equal(h.readCsr(CSR_MIP)! & 0x200n, 0n, "SEIP must follow the device once it drops");
  assert.equal(h.readCsr(CSR_MIP)! & 0x2n, 0x2n, "SSIP stays set");
});

test("setSoftwarePending sets and clears only software bits", () => {
  const h = hartWith([]);
  h.setMip(9, true);
  h.setSoftwarePending(1, true);
  h.setMip(9, false);
  assert.equal(h.readCsr(CSR_MIP), 2n);
  h.setSoftwarePending(1, false);
  assert.equal(h.readCsr(CSR_MIP), 0n);
});

test("a trap storm still returns control: run() always advances its step count", () => {
  // mtvec points at an illegal instruction, so every trap traps again and nothing retires.
  const h = hartWith([0]);
  h.writeCsr(CSR_MTVEC, BigInt(BASE));
  const steps = h.run(1000);
  assert.ok(steps >= 1000);
  assert.equal(h.instret, 0);
});

test("a store into a page holding translated code reaches the code-write listeners (TLB never caches it)", () => {
  // sd x0, 0x100(x1) twice, with x1 = BASE + 0x1000.
  const sd = (0x100 << 20) >>> 0;
  const store = ((sd >>> 25) << 25) | (0 << 20) | (1 << 15) | (3 << 12) | ((0x100 & 31) << 7) | 0x23;
  const h = hartWith([store, store, store]);
  h.x[2] = BASE + 0x1000;
  h.x[3] = 0;
  const seen: number[] = [];
  h.ram.onCodeWrite((a) => seen.push(a));
  assert.equal(h.run(1), 1);
  assert.deepEqual(seen, []);
  h.ram.markCode(1);
  assert.equal(h.run(1), 1);
  assert.deepEqual(seen, [1]);
  h.ram.markCode(1);
  assert.equal(h.run(1), 1);
  assert.deepEqual(seen, [1, 1], "the first store's TLB entry was dropped when the page was marked");
});
