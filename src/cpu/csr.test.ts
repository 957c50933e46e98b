/** CSR behaviour that firmware and Linux rely on: WARL fields, probing by trap, delegation masks, counters. */

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CSR_MCOUNTEREN,
  CSR_MEDELEG,
  CSR_MENVCFG,
  CSR_MHARTID,
  CSR_MIDELEG,
  CSR_MIE,
  CSR_MIP,
  CSR_MISA,
  CSR_MSTATUS,
  CSR_PMPCFG0,
  CSR_SATP,
  CSR_SIE,
  CSR_SSTATUS,
  CSR_STIMECMP,
  CSR_TIME,
} from "../isa/riscv/csr-names.js";
import { csrRead } from "./csr.js";
import type { Hart } from "./hart.js";
import { testHart } from "./testing.js";

function hart(): Hart {
  return testHart({ hartId: 3, mtime: () => 12345 }).hart;
}

test("satp ignores writes of unsupported modes (Linux probes Sv57, then Sv48)", () => {
  const h = hart();
  h.writeCsr(CSR_SATP, (10n << 60n) | 0x80001n);
  assert.equal(h.readCsr(CSR_SATP), 0n);
  h.writeCsr(CSR_SATP, (9n << 60n) | 0x80001n);
  assert.equal(h.readCsr(CSR_SATP), (9n << 60n) | 0x80001n);
  h.writeCsr(CSR_SATP, (8n << 60n) | (0xffffn << 44n) | 0x80002n);
  assert.equal(h.readCsr(CSR_SATP), (8n << 60n) | 0x80002n, "ASID bits read as zero");
});

test("unimplemented CSRs do not exist; identification CSRs do", () => {
  const h = hart();
  assert.equal(h.readCsr(0x7c0), undefined, "0x7c0 (custom space) is not implemented");
  assert.equal(h.readCsr(CSR_PMPCFG0 + 1), undefined, "odd pmpcfg registers do not exist on RV64");
  assert.equal(h.readCsr(CSR_MHARTID), 3n);
  assert.equal(h.readCsr(CSR_MISA), (2n << 62n) | 0x14112dn);
});

test("mstatus: WARL MPP, read-only XLEN fields, SD tracks FS", () => {
  const h = hart();
  h.writeCsr(CSR_MSTATUS, 3n << 11n);
  h.writeCsr(CSR_MSTATUS, 2n << 11n);
  assert.equal((h.readCsr(CSR_MSTATUS)! >> 11n) & 3n, 3n, "MPP=2 is reserved and ignored");
  h.writeCsr(CSR_MSTATUS, 3n << 13n);
  const v = h.readCsr(CSR_MSTATUS)!;
  assert.equal(v >> 63n, 1n, "SD");
  assert.equal((v >> 32n) & 0xfn, 0xan, "UXL=SXL=2");
  assert.equal(h.readCsr(CSR_SSTATUS)! & (3n << 13n), 3n << 13n, "sstatus shows FS");
});

test("delegation and interrupt-enable masks", () => {
  const h = hart();
  h.writeCsr(CSR_MEDELEG, 0xffffn);
  assert.equal(h.readCsr(CSR_MEDELEG), 0xb3ffn);
  h.writeCsr(CSR_MIDELEG, 0xffffn);
  assert.equal(h.readCsr(CSR_MIDELEG), 0x222n);
  h.writeCsr(CSR_MIE, 0xffffn);
  assert.equal(h.readCsr(CSR_MIE), 0xaaan);
  assert.equal(h.readCsr(CSR_SIE), 0x222n, "sie is mie masked by mideleg");
});

test("time reads the platform timer; stimecmp drives STIP under Sstc", () => {
  const h = hart();
  assert.equal(h.readCsr(CSR_TIME), 12345n);
  h.writeCsr(CSR_MENVCFG, 1n << 63n);
  h.writeCsr(CSR_STIMECMP, 20000n);
  assert.equal(h.readCsr(CSR_MIP)! & 0x20n, 0n);
  h.writeCsr(CSR_STIMECMP, 100n);
  assert.equal(h.readCsr(CSR_MIP)! & 0x20n, 0x20n);
});

test("stimecmp below M needs both menvcfg.STCE and mcounteren.TM (Sstc)", () => {
  const h = hart();
  const sRead = (): boolean => {
    h.priv = 1;
    const ok = csrRead(h, 0x14d);
    h.priv = 3;
    return ok;
  };
  assert.equal(sRead(), false, "STCE clear");
  h.writeCsr(CSR_MENVCFG, 1n << 63n);
  assert.equal(sRead(), false, "mcounteren.TM clear");
  h.writeCsr(CSR_MCOUNTEREN, 2n);
  assert.equal(sRead(), true);
  assert.notEqual(h.readCsr(CSR_STIMECMP), undefined, "M-mode always has access");
});
