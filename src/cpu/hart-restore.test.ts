/** Hart save/restore: a restored hart carries on exactly as the saved one, and a bad state changes nothing. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CSR_MEDELEG,
  CSR_MIE,
  CSR_MSCRATCH,
  CSR_MTVEC,
  CSR_SATP,
  CSR_STIMECMP,
} from "../isa/riscv/csr-names.js";
import { PRIV_M } from "./csr-bits.js";
import type { Hart } from "./hart.js";
import { TEST_RAM_BASE, testHart } from "./testing.js";

/** addi rd, rs1, imm */
const addi = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13;
/** csrrw x0, csr, rs1 */
const csrw = (csr: number, rs1: number) => (csr << 20) | (rs1 << 15) | (1 << 12) | 0x73;

const PROGRAM = [addi(5, 0, 123), csrw(CSR_MSCRATCH, 5), addi(6, 5, 1), addi(7, 6, 5), addi(8, 7, -200)];

/** Sv39 with a root table in RAM (the hart stays in M-mode, so nothing is translated). */
const SATP = (8n << 60n) | BigInt((TEST_RAM_BASE + 0x8000) / 4096);

/** A hart three instructions into PROGRAM, with CSR state a fresh hart does not have. */
function busyHart() {
  const t = testHart({ program: PROGRAM, openPmp: true });
  const h = t.hart;
  h.writeCsr(CSR_MTVEC, BigInt(TEST_RAM_BASE + 0x400));
  h.writeCsr(CSR_MEDELEG, 0x100n);
  h.writeCsr(CSR_MIE, 0x20n);
  h.writeCsr(CSR_STIMECMP, 0x1_2345_6789n);
  h.writeCsr(CSR_SATP, SATP);
  h.f[2] = 0x3ff00000; // some FP register bits
  assert.equal(h.run(3), 3);
  return t;
}

function sameState(a: Hart, b: Hart): void {
  assert.deepEqual(b.save(), a.save());
}

test("a restored hart continues where the saved one stopped", () => {
  const src = busyHart();
  const saved = src.hart.save();
  const dst = testHart();
  assert.notDeepEqual(dst.hart.save(), saved, "the target starts in a different state");
  dst.ram.setAll(src.ram.u8);
  dst.hart.restore(saved);
  sameState(src.hart, dst.hart);
  assert.equal(dst.hart.pc, TEST_RAM_BASE + 12);
  assert.equal(dst.hart.readCsr(CSR_MSCRATCH), 123n);
  assert.equal(dst.hart.readCsr(CSR_STIMECMP), 0x1_2345_6789n);
  assert.equal(dst.hart.readCsr(CSR_SATP), SATP);
  // The next two instructions give the same results on both.
  assert.equal(src.hart.run(2), 2);
  assert.equal(dst.hart.run(2), 2);
  assert.equal(dst.hart.getX(7), 129n);
  assert.equal(dst.hart.getX(8), BigInt.asUintN(64, -71n));
  sameState(src.hart, dst.hart);
});

test("a state that fails a check is refused and leaves the hart as it was", () => {
  const saved = busyHart().hart.save();
  const dst = testHart();
  dst.hart.setPrivilege(PRIV_M);
  const before = dst.hart.save();
  for (const bad of [
    { ...saved, priv: 2 }, // reserved privilege level
    { ...saved, x: new Int32Array(3) }, // wrong register file size
    { ...saved, kind: "plic" },
    { ...saved, version: 99 },
  ]) {
    assert.throws(() => dst.hart.restore(bad));
    assert.deepEqual(
      dst.hart.save(),
      before,
      `after refusing ${JSON.stringify(Object.keys(bad).length)}-field state`,
    );
  }
});

test("a hart stopped right after an instruction that wrote x0 saves x0 as zero and restores", () => {
  const src = busyHart();
  // What `addi x0, x5, 1` leaves behind in the interpreter until the next instruction re-zeroes x0.
  src.hart.x[0] = 124;
  src.hart.x[1] = -1;
  const saved = src.hart.save();
  const x = (saved as unknown as { x: Int32Array }).x;
  assert.equal(x[0], 0);
  assert.equal(x[1], 0);
  const dst = testHart();
  dst.ram.setAll(src.ram.u8);
  dst.hart.restore(saved);
  assert.equal(dst.hart.getX(0), 0n);
  assert.equal(dst.hart.getX(5), 123n);
});
