/** Randomised checks of the 64-bit multiply/divide helpers against BigInt arithmetic. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { div32, div64, divu64, mul64, mulh64, mulhsu64, mulhu64, res } from "./alu64.js";

const M64 = (1n << 64n) - 1n;
const split = (v: bigint): [number, number] => {
  const u = BigInt.asUintN(64, v);
  return [Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0];
};
const got = (): bigint => (BigInt(res.hi >>> 0) << 32n) | BigInt(res.lo >>> 0);

/** Deterministic values that stress carries, signs and the int32 fast paths. */
function samples(): bigint[] {
  const out = [
    0n,
    1n,
    -1n,
    2n,
    -2n,
    0x7fffffffn,
    -0x80000000n,
    0x80000000n,
    0xffffffffn,
    1n << 63n,
    (1n << 63n) - 1n,
  ];
  let seed = 0x12345678n;
  for (let i = 0; i < 60; i++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & M64;
    const shift = BigInt(i % 64);
    out.push(BigInt.asIntN(64, seed >> shift));
  }
  return out.map((v) => BigInt.asIntN(64, v));
}

test("MUL, MULH, MULHU, MULHSU match 128-bit products", () => {
  for (const a of samples()) {
    for (const b of samples()) {
      const [alo, ahi] = split(a);
      const [blo, bhi] = split(b);
      const ua = BigInt.asUintN(64, a);
      const ub = BigInt.asUintN(64, b);
      mul64(alo, ahi, blo, bhi);
      assert.equal(got(), (ua * ub) & M64, `mul ${a} ${b}`);
      mulhu64(alo, ahi, blo, bhi);
      assert.equal(got(), (ua * ub) >> 64n, `mulhu ${a} ${b}`);
      mulh64(alo, ahi, blo, bhi);
      assert.equal(got(), BigInt.asUintN(64, (a * b) >> 64n), `mulh ${a} ${b}`);
      mulhsu64(alo, ahi, blo, bhi);
      assert.equal(got(), BigInt.asUintN(64, (a * ub) >> 64n), `mulhsu ${a} ${b}`);
    }
  }
});

test("DIV, DIVU, REM, REMU follow the spec's table 7.1 including the corner cases", () => {
  for (const a of samples()) {
    for (const b of samples()) {
      const [alo, ahi] = split(a);
      const [blo, bhi] = split(b);
      const ua = BigInt.asUintN(64, a);
      const ub = BigInt.asUintN(64, b);
      let q: bigint;
      let r: bigint;
      if (b === 0n) {
        q = -1n;
        r = a;
      } else if (a === -(1n << 63n) && b === -1n) {
        q = a;
        r = 0n;
      } else {
        q = a / b;
        r = a % b;
      }
      div64(alo, ahi, blo, bhi, false);
      assert.equal(got(), BigInt.asUintN(64, q), `div ${a} ${b}`);
      div64(alo, ahi, blo, bhi, true);
      assert.equal(got(), BigInt.asUintN(64, r), `rem ${a} ${b}`);
      divu64(alo, ahi, blo, bhi, false);
      assert.equal(got(), ub === 0n ? M64 : ua / ub, `divu ${a} ${b}`);
      divu64(alo, ahi, blo, bhi, true);
      assert.equal(got(), ub === 0n ? ua : ua % ub, `remu ${a} ${b}`);
    }
  }
});

test("DIVW family on 32-bit operands", () => {
  assert.equal(div32(-0x80000000, -1, false, false), -0x80000000);
  assert.equal(div32(-0x80000000, -1, true, false), 0);
  assert.equal(div32(7, 0, false, false), -1);
  assert.equal(div32(7, 0, true, false), 7);
  assert.equal(div32(-7, 2, false, false), -3);
  assert.equal(div32(-7, 2, true, false), -1);
  assert.equal(div32(-1, 2, false, true), 0x7fffffff);
  assert.equal(div32(-1, 2, true, true), 1);
});
