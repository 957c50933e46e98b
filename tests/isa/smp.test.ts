/**
 * Multi-hart bare program (tests/isa/smp/smp4.S, validated on QEMU's spike machine with -smp 4): AMOs
 * and LR/SC stay atomic across harts that run interleaved, and CLINT MSIP wakes harts parked in WFI.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { FieldError } from "../../src/base/errors.js";
import type { CharBackend } from "../../src/io/char-backend.js";
import { runBareElf } from "../../src/machine/bare-runner.js";

const here = dirname(fileURLToPath(import.meta.url));
const elf = readFileSync(join(here, "..", "..", "..", "tests", "isa", "smp", "smp4.elf"));
const quiet: CharBackend = { write: () => {}, onInput: () => {} };

test("four harts: atomics across harts and MSIP wake-up (exit 0)", async () => {
  const r = await runBareElf({
    elf,
    memBytes: 16 << 20,
    console: quiet,
    harts: 4,
    maxInstructions: 50_000_000,
  });
  assert.equal(r.exitCode, 0);
});

test("one hart: the program sees the other harts never finish (exit 2, as on QEMU -smp 1)", async () => {
  const r = await runBareElf({
    elf,
    memBytes: 16 << 20,
    console: quiet,
    harts: 1,
    maxInstructions: 100_000_000,
  });
  assert.equal(r.exitCode, 2);
});

test("a hart count out of range is a typed error naming the field and value", async () => {
  await assert.rejects(runBareElf({ elf, memBytes: 16 << 20, console: quiet, harts: 9 }), (e: unknown) => {
    assert.ok(e instanceof FieldError);
    assert.equal(e.field, "harts");
    assert.equal(e.value, 9);
    assert.match(e.detail, /1\.\.8/);
    return true;
  });
});
