// Differential test: executeFp (fast path where it applies) against the exact BigInt reference on many
// random operands, in every rounding mode. The reference itself is checked against QEMU in fpu.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { executeFp } from "./execute.js";
import { BINARY32, BINARY64, type FloatFormat } from "./fp-consts.js";
import type { FpState } from "./fp-state.js";
import { sfAdd, sfConvert, sfDiv, sfFma, sfFromInt, sfMul, sfSqrt, sfToInt, softFlags } from "./softfloat.js";

let seed = 12345;
function rand32(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** Random operand bits biased toward the fast path's range, its edges, and exact/tie-prone values. */
function randBits(fmt: FloatFormat): bigint {
  const fb = BigInt(fmt.fracBits);
  const emaxField = (1 << fmt.expBits) - 1;
  const frac = ((BigInt(rand32()) << 32n) | BigInt(rand32())) & ((1n << fb) - 1n);
  const sign = BigInt(rand32() & 1) << BigInt(fmt.expBits + fmt.fracBits);
  let e: number;
  const k = rand32() % 8;
  if (k < 4) e = fmt.bias - 10 + (rand32() % 20);
  else if (k === 4) e = rand32() % 40;
  else if (k === 5) e = emaxField - 1 - (rand32() % 40);
  else e = 1 + (rand32() % (emaxField - 1));
  const f = k === 7 ? frac & ~((1n << (fb - 4n)) - 1n) : frac; // few significant bits
  return sign | (BigInt(e) << fb) | f;
}

function newState(): FpState {
  return { x: new Int32Array(64), f: new Int32Array(64), fflags: 0, frm: 0 };
}

function setF(s: FpState, r: number, bits: bigint, fmt: FloatFormat): void {
  const v = fmt === BINARY32 ? bits | 0xffffffff00000000n : bits;
  s.f[2 * r] = Number(v & 0xffffffffn) | 0;
  s.f[2 * r + 1] = Number(v >> 32n) | 0;
}

function getF(s: FpState, r: number, fmt: FloatFormat): bigint {
  const v = (BigInt(s.f[2 * r + 1] >>> 0) << 32n) | BigInt(s.f[2 * r] >>> 0);
  return fmt === BINARY32 ? v & 0xffffffffn : v;
}

const R = (f7: number, rs2: number, rm: number) =>
  (f7 << 25) | (rs2 << 20) | (1 << 15) | (rm << 12) | (10 << 7) | 0x53 | 0;
const R4 = (opc: number, fmt: number, rm: number) =>
  (3 << 27) | (fmt << 25) | (2 << 20) | (1 << 15) | (rm << 12) | (10 << 7) | opc | 0;

/** Iterations per operation; FP_DIFF_N raises it for longer soak runs. */
const N = Number(process.env.FP_DIFF_N ?? 20000);

for (const fmt of [BINARY32, BINARY64]) {
  const fmtBit = fmt === BINARY64 ? 1 : 0;
  const name = fmt === BINARY64 ? "d" : "s";
  const binary: [string, number, (a: bigint, b: bigint, rm: number) => bigint][] = [
    ["fadd", 0x00, (a, b, rm) => sfAdd(fmt, a, b, rm, false)],
    ["fsub", 0x04, (a, b, rm) => sfAdd(fmt, a, b, rm, true)],
    ["fmul", 0x08, (a, b, rm) => sfMul(fmt, a, b, rm)],
    ["fdiv", 0x0c, (a, b, rm) => sfDiv(fmt, a, b, rm)],
  ];
  for (const [op, f7, ref] of binary) {
    test(`${op}.${name}: fast path agrees with the exact reference`, () => {
      const s = newState();
      for (let i = 0; i < N; i++) {
        const a = randBits(fmt);
        // b near a in exponent half the time, so cancellation and ties occur
        const b =
          i % 2
            ? randBits(fmt)
            : a ^ BigInt(rand32() & 0xff) ^ (BigInt(rand32() & 1) << BigInt(fmt.expBits + fmt.fracBits));
        const rm = i % 5;
        setF(s, 1, a, fmt);
        setF(s, 2, b, fmt);
        s.fflags = 0;
        assert.ok(executeFp(s, R(f7 | fmtBit, 2, rm)));
        softFlags.v = 0;
        const want = ref(a, b, rm);
        const got = getF(s, 10, fmt);
        if (got !== want || s.fflags !== softFlags.v) {
          assert.fail(
            `${op}.${name} a=${a.toString(16)} b=${b.toString(16)} rm=${rm}: got ${got.toString(16)}/${s.fflags}, want ${want.toString(16)}/${softFlags.v}`,
          );
        }
      }
    });
  }
  test(`fsqrt.${name}: fast path agrees with the exact reference`, () => {
    const s = newState();
    for (let i = 0; i < N; i++) {
      const a = randBits(fmt) & ~(1n << BigInt(fmt.expBits + fmt.fracBits));
      const rm = i % 5;
      setF(s, 1, a, fmt);
      s.fflags = 0;
      assert.ok(executeFp(s, R(0x2c | fmtBit, 0, rm)));
      softFlags.v = 0;
      const want = sfSqrt(fmt, a, rm);
      assert.equal(getF(s, 10, fmt), want, `sqrt ${a.toString(16)} rm=${rm}`);
      assert.equal(s.fflags, softFlags.v, `sqrt flags ${a.toString(16)} rm=${rm}`);
    }
  });
  test(`fmadd family .${name}: fast path agrees with the exact reference`, () => {
    const s = newState();
    const ops: [number, boolean, boolean][] = [
      [0x43, false, false],
      [0x47, false, true],
      [0x4b, true, false],
      [0x4f, true, true],
    ];
    for (let i = 0; i < N; i++) {
      const a = randBits(fmt);
      const b = randBits(fmt);
      let c = randBits(fmt);
      if (i % 3 === 0) {
        // c near -(a*b): massive cancellation
        const p = sfMul(fmt, a, b, 0);
        c = (p ^ (1n << BigInt(fmt.expBits + fmt.fracBits))) + BigInt((rand32() % 5) - 2);
        if (c < 0n) c = 0n;
      }
      const [opc, np, nc] = ops[i % 4];
      const rm = (i >> 2) % 5;
      setF(s, 1, a, fmt);
      setF(s, 2, b, fmt);
      setF(s, 3, c, fmt);
      s.fflags = 0;
      assert.ok(executeFp(s, R4(opc, fmtBit, rm)));
      softFlags.v = 0;
      const want = sfFma(fmt, a, b, c, rm, np, nc);
      const got = getF(s, 10, fmt);
      if (got !== want || s.fflags !== softFlags.v) {
        assert.fail(
          `fma ${opc} a=${a.toString(16)} b=${b.toString(16)} c=${c.toString(16)} rm=${rm}: got ${got.toString(16)}/${s.fflags}, want ${want.toString(16)}/${softFlags.v}`,
        );
      }
    }
  });
  test(`fcvt int<->${name}: fast path agrees with the exact reference`, () => {
    const s = newState();
    const widths: [number, boolean][] = [
      [32, true],
      [32, false],
      [64, true],
      [64, false],
    ];
    for (let i = 0; i < N; i++) {
      const kind = i % 4;
      const rm = (i >> 2) % 5;
      const [w, signed] = widths[kind];
      // float -> int, with values concentrated in the integer ranges
      let a = randBits(fmt);
      if (i % 2) {
        const e = fmt.bias + (rand32() % 70) - 2;
        a =
          (a & ~(((1n << BigInt(fmt.expBits)) - 1n) << BigInt(fmt.fracBits))) |
          (BigInt(e) << BigInt(fmt.fracBits));
      }
      setF(s, 1, a, fmt);
      s.fflags = 0;
      assert.ok(executeFp(s, R(0x60 | fmtBit, kind, rm)));
      softFlags.v = 0;
      let want = sfToInt(fmt, a, rm, w, signed);
      if (w === 32) want = BigInt.asIntN(32, want);
      const got = BigInt.asIntN(64, (BigInt(s.x[21] >>> 0) << 32n) | BigInt(s.x[20] >>> 0));
      assert.equal(got, BigInt.asIntN(64, want), `fcvt.${kind} a=${a.toString(16)} rm=${rm}`);
      assert.equal(s.fflags, softFlags.v, `fcvt.${kind} flags a=${a.toString(16)} rm=${rm}`);
      // int -> float
      const sh = BigInt(rand32() % 64);
      const v = ((BigInt(rand32()) << 32n) | BigInt(rand32())) >> sh;
      s.x[22] = Number(v & 0xffffffffn) | 0;
      s.x[23] = Number(v >> 32n) | 0;
      s.fflags = 0;
      assert.ok(executeFp(s, (R(0x68 | fmtBit, kind, rm) & ~(31 << 15)) | (11 << 15)));
      let iv = v;
      if (kind === 0) iv = BigInt.asIntN(32, v);
      else if (kind === 1) iv = BigInt.asUintN(32, v);
      else if (kind === 2) iv = BigInt.asIntN(64, v);
      softFlags.v = 0;
      assert.equal(
        getF(s, 10, fmt),
        sfFromInt(fmt, iv, rm),
        `fcvt from ${v.toString(16)} kind ${kind} rm=${rm}`,
      );
      assert.equal(s.fflags, softFlags.v);
    }
  });
}

test("fcvt.s.d: fast path agrees with the exact reference", () => {
  const s = newState();
  for (let i = 0; i < N; i++) {
    let a = randBits(BINARY64);
    if (i % 2) {
      const e = 1023 - 150 + (rand32() % 300);
      a = (a & ~(0x7ffn << 52n)) | (BigInt(e) << 52n);
    }
    const rm = i % 5;
    setF(s, 1, a, BINARY64);
    s.fflags = 0;
    assert.ok(executeFp(s, R(0x20, 1, rm)));
    softFlags.v = 0;
    assert.equal(
      getF(s, 10, BINARY32),
      sfConvert(BINARY64, BINARY32, a, rm),
      `cvt ${a.toString(16)} rm=${rm}`,
    );
    assert.equal(s.fflags, softFlags.v, `cvt flags ${a.toString(16)} rm=${rm}`);
  }
});
