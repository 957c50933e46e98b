// Unit tests for executeFp: NaN-boxing (spec §12.2), rounding-mode legality (§11.2), x0, and NaN handling.
import assert from "node:assert/strict";
import { test } from "node:test";
import { executeFp } from "./execute.js";
import type { FpState } from "./fp-state.js";

const OP_FP = 0x53;
function r(funct7: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | OP_FP | 0;
}
function r4(opc: number, fmt: number, rs3: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return (rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opc | 0;
}
function state(): FpState {
  return { x: new Int32Array(64), f: new Int32Array(64), fflags: 0, frm: 0 };
}
function setS(s: FpState, i: number, bits: number, hi = -1): void {
  s.f[2 * i] = bits | 0;
  s.f[2 * i + 1] = hi;
}
function setD(s: FpState, i: number, hi: number, lo: number): void {
  s.f[2 * i] = lo | 0;
  s.f[2 * i + 1] = hi | 0;
}
const ONE_S = 0x3f800000;
const ONE_D_HI = 0x3ff00000;

test("a single read from an improperly NaN-boxed register is the canonical NaN", () => {
  const s = state();
  setS(s, 1, ONE_S, 0); // upper half not all ones
  setS(s, 2, ONE_S);
  assert.ok(executeFp(s, r(0x00, 2, 1, 0, 3))); // fadd.s f3, f1, f2
  assert.equal(s.f[6], 0x7fc00000);
  assert.equal(s.f[7], -1, "results are NaN-boxed");
  assert.equal(s.fflags, 0, "the canonical NaN is quiet: no NV");
  assert.ok(executeFp(s, r(0x70, 0, 1, 1, 5))); // fclass.s x5, f1
  assert.equal(s.x[10], 1 << 9);
  assert.ok(executeFp(s, r(0x10, 2, 1, 1, 4))); // fsgnjn.s f4, f1, f2: canonical NaN with sign of ~f2
  assert.equal(s.f[8], 0xffc00000 | 0);
  assert.equal(s.f[9], -1);
});

test("FMV.X.W moves the low 32 bits unchanged, without a NaN-boxing check, sign-extended", () => {
  const s = state();
  setS(s, 1, 0xff800001, 0x12345678);
  assert.ok(executeFp(s, r(0x70, 0, 1, 0, 5)));
  assert.equal(s.x[10], 0xff800001 | 0);
  assert.equal(s.x[11], -1);
  s.x[12] = 0x7f800001; // a signalling NaN, moved as bits
  s.x[13] = 0x55;
  assert.ok(executeFp(s, r(0x78, 0, 6, 0, 2))); // fmv.w.x f2, x6
  assert.equal(s.f[4], 0x7f800001);
  assert.equal(s.f[5], -1);
  assert.equal(s.fflags, 0);
});

test("reserved rounding modes and DYN with an invalid frm are illegal and change nothing", () => {
  for (const [rm, frm] of [
    [5, 0],
    [6, 0],
    [7, 5],
    [7, 6],
    [7, 7],
  ]) {
    const s = state();
    s.frm = frm;
    setD(s, 1, ONE_D_HI, 0);
    setD(s, 2, ONE_D_HI, 0);
    for (const insn of [
      r(0x01, 2, 1, rm, 3), // fadd.d
      r(0x2d, 0, 1, rm, 3), // fsqrt.d
      r(0x61, 0, 1, rm, 3), // fcvt.w.d
      r(0x69, 0, 1, rm, 3), // fcvt.d.w
      r(0x21, 0, 1, rm, 3), // fcvt.d.s
      r4(0x43, 1, 2, 2, 1, rm, 3), // fmadd.d
    ]) {
      assert.equal(executeFp(s, insn), false, `insn ${insn.toString(16)} rm=${rm} frm=${frm}`);
    }
    assert.equal(s.f[6], 0);
    assert.equal(s.f[7], 0);
    assert.equal(s.x[6], 0);
    assert.equal(s.fflags, 0);
  }
});

test("DYN rounding uses frm", () => {
  const s = state();
  setD(s, 1, ONE_D_HI, 0);
  setD(s, 2, 0x3ca00000, 1); // just above 2^-53: 1 + this rounds up in RNE, down in RTZ
  s.frm = 1;
  assert.ok(executeFp(s, r(0x01, 2, 1, 7, 3)));
  assert.equal(s.f[7], ONE_D_HI);
  assert.equal(s.f[6], 0);
  assert.equal(s.fflags, 1);
  s.frm = 0;
  assert.ok(executeFp(s, r(0x01, 2, 1, 7, 3)));
  assert.equal(s.f[6], 1);
});

test("x0 is never written", () => {
  const s = state();
  setD(s, 1, ONE_D_HI, 0);
  assert.ok(executeFp(s, r(0x51, 1, 1, 2, 0))); // feq.d x0, f1, f1
  assert.ok(executeFp(s, r(0x61, 0, 1, 0, 0))); // fcvt.w.d x0, f1
  assert.ok(executeFp(s, r(0x71, 0, 1, 1, 0))); // fclass.d x0, f1
  assert.equal(s.x[0], 0);
  assert.equal(s.x[1], 0);
});

test("unsupported formats, opcodes and funct fields are illegal", () => {
  const s = state();
  assert.equal(executeFp(s, r(0x02, 2, 1, 0, 3)), false); // fadd.h
  assert.equal(executeFp(s, r(0x03, 2, 1, 0, 3)), false); // fadd.q
  assert.equal(executeFp(s, r4(0x43, 2, 1, 2, 1, 0, 3)), false);
  assert.equal(executeFp(s, 0x00000013), false); // not an FP opcode
  assert.equal(executeFp(s, r(0x11, 2, 1, 3, 3)), false); // fsgnj funct3 3
  assert.equal(executeFp(s, r(0x2d, 1, 1, 0, 3)), false); // fsqrt rs2 != 0
});

test("signalling NaNs keep their bits through sign injection and raise NV in arithmetic", () => {
  const s = state();
  setD(s, 1, 0x7ff00000, 1); // sNaN
  assert.ok(executeFp(s, r(0x11, 1, 1, 1, 2))); // fsgnjn.d f2, f1, f1
  assert.equal(s.f[5], 0xfff00000 | 0);
  assert.equal(s.f[4], 1);
  assert.equal(s.fflags, 0);
  setS(s, 3, 0x7f800001); // single sNaN
  assert.ok(executeFp(s, r(0x21, 0, 3, 0, 4))); // fcvt.d.s f4, f3
  assert.equal(s.f[9], 0x7ff80000);
  assert.equal(s.f[8], 0);
  assert.equal(s.fflags, 16);
  s.fflags = 0;
  setD(s, 5, ONE_D_HI, 0);
  assert.ok(executeFp(s, r(0x15, 5, 1, 0, 6))); // fmin.d f6, f1(sNaN), f5
  assert.equal(s.f[13], ONE_D_HI);
  assert.equal(s.fflags, 16);
});

test("FMA: inf * 0 raises NV even with a quiet NaN addend", () => {
  const s = state();
  setD(s, 1, 0x7ff00000, 0); // +inf
  setD(s, 2, 0, 0); // +0
  setD(s, 3, 0x7ff80000, 0); // qNaN
  assert.ok(executeFp(s, r4(0x43, 1, 3, 2, 1, 0, 4)));
  assert.equal(s.f[9], 0x7ff80000);
  assert.equal(s.fflags, 16);
});

test("FMIN/FMAX order -0 below +0", () => {
  const s = state();
  setD(s, 1, 0x80000000, 0); // -0
  setD(s, 2, 0, 0); // +0
  assert.ok(executeFp(s, r(0x15, 2, 1, 0, 3)));
  assert.equal(s.f[7], 0x80000000 | 0);
  assert.ok(executeFp(s, r(0x15, 1, 2, 1, 3)));
  assert.equal(s.f[7], 0);
});
