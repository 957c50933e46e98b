/** Tests for the SBI hart-mask decoder (SBI v2.0 §3.1) with hostile masks and bases. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeHartMask } from "./hart-mask.js";
import { SBI_ERR_INVALID_PARAM } from "./sbi-spec.js";

const ALL_ONES = (1n << 64n) - 1n;

test("base -1 selects every hart and ignores the mask, whatever it holds", () => {
  assert.deepEqual(decodeHartMask(0n, ALL_ONES, 3), [0, 1, 2]);
  assert.deepEqual(decodeHartMask(ALL_ONES, ALL_ONES, 1), [0]);
});

test("selected harts are base + bit index; an empty mask selects none", () => {
  assert.deepEqual(decodeHartMask(0b101n, 0n, 4), [0, 2]);
  assert.deepEqual(decodeHartMask(0b1n, 3n, 4), [3]);
  assert.deepEqual(decodeHartMask(0n, 1n << 63n, 4), []);
  assert.deepEqual(decodeHartMask(0n, ALL_ONES - 1n, 4), []);
});

test("any selected hart that does not exist is INVALID_PARAM, however large its id", () => {
  assert.equal(decodeHartMask(ALL_ONES, 0n, 8), SBI_ERR_INVALID_PARAM); // bits 8..63
  assert.equal(decodeHartMask(1n, 8n, 8), SBI_ERR_INVALID_PARAM);
  assert.equal(decodeHartMask(1n, 1n << 63n, 8), SBI_ERR_INVALID_PARAM);
  assert.equal(decodeHartMask(1n << 63n, ALL_ONES - 1n, 8), SBI_ERR_INVALID_PARAM); // id beyond 2^64
  assert.equal(decodeHartMask(1n, BigInt(Number.MAX_SAFE_INTEGER) + 1n, 8), SBI_ERR_INVALID_PARAM);
});
