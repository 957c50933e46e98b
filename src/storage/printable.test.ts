/** Unit tests for escaping names read from image files before they are printed. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { printable } from "./printable.js";

test("control, C1 and bidi characters are escaped; printable text is kept", () => {
  assert.equal(printable("base.qcow2"), "base.qcow2");
  assert.equal(printable("snäpshot ✓"), "snäpshot ✓");
  assert.equal(printable("a\u0000b"), "a\\x00b");
  assert.equal(printable("\u001b]0;owned\u0007"), "\\x1b]0;owned\\x07");
  assert.equal(printable("x\u009b31m"), "x\\x9b31m");
  assert.equal(printable("\u007f\n\r\t"), "\\x7f\\x0a\\x0d\\x09");
  assert.equal(printable("abc\u202edcba"), "abc\\u{202e}dcba");
  // Nothing unprintable survives.
  for (let c = 0; c < 0x100; c++) {
    const out = printable(String.fromCharCode(c));
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(out), `U+${c.toString(16)} -> ${JSON.stringify(out)}`);
  }
});
