/** Unit tests for qemu-img style size parsing and printing. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { UserError } from "../../base/errors.js";
import { formatSize, parseSize } from "./size.js";

test("sizes parse with binary suffixes like qemu-img", () => {
  assert.equal(parseSize("512"), 512);
  assert.equal(parseSize("64K"), 65536);
  assert.equal(parseSize("10M"), 10 << 20);
  assert.equal(parseSize("1.5G"), 1.5 * 2 ** 30);
  assert.equal(parseSize("2T"), 2 * 2 ** 40);
  assert.throws(() => parseSize("12Q"), UserError);
  assert.throws(() => parseSize("0.3K"), UserError);
});

test("sizes print with three significant digits", () => {
  assert.equal(formatSize(1 << 30), "1 GiB");
  assert.equal(formatSize(196 * 1024), "196 KiB");
  assert.equal(formatSize(4213248), "4.02 MiB");
  assert.equal(formatSize(100), "100 B");
});
