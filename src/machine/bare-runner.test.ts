/** Tests for the bare-program runner: HTIF exit status, missing tohost, instruction limits, console output. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { UserError } from "../base/errors.js";
import { hostClock } from "../io/node/clock.js";
import { runBareElf } from "./bare-runner.js";

const quiet = { write: () => {}, onInput: () => {} };
const rv64i = readFileSync(join("tests", "isa", "bin", "rv64i.elf"));
const bench = readFileSync(join("tests", "bench", "cpu", "cpu-bench.elf"));

test("runs a passing program to HTIF exit 0", async () => {
  const r = await runBareElf({ elf: rv64i, memBytes: 1 << 24, console: quiet });
  assert.equal(r.exitCode, 0);
  assert.ok(r.instructions > 500);
});

test("reports the program's exit status: a patched expected value makes case 1 fail", async () => {
  // Case 1 is `li gp,1; li a1,0; li a2,0; add a4,a1,a2; li t2,0; bne a4,t2,fail`: turn `li t2,0`
  // (c.li-free 32-bit addi t2,x0,0 = 0x00000393) into `li t2,1` (0x00100393).
  const elf = Uint8Array.from(rv64i);
  const view = new DataView(elf.buffer);
  let patched = false;
  for (let i = 0; i + 4 <= elf.length; i += 4) {
    if (view.getUint32(i, true) === 0x00000393) {
      view.setUint32(i, 0x00100393, true);
      patched = true;
      break;
    }
  }
  assert.ok(patched);
  const r = await runBareElf({ elf, memBytes: 1 << 24, console: quiet });
  assert.equal(r.exitCode, 1);
});

test("console output through HTIF device 1 reaches the backend", async () => {
  const out: number[] = [];
  const r = await runBareElf({
    elf: bench,
    memBytes: 1 << 24,
    console: { write: (d) => out.push(...d), onInput: () => {} },
    maxInstructions: 400_000_000,
  });
  assert.equal(r.exitCode, 0);
  assert.equal(out.length, 1);
});

test("a program without tohost, or one that never exits, is a UserError", async () => {
  const elf = Uint8Array.from(rv64i);
  // The symbol string table holds "\0tohost\0" (section names hold ".tohost").
  const at = Buffer.from(elf).indexOf(Buffer.from("\0tohost\0", "latin1"));
  assert.ok(at > 0);
  elf[at + 6] = 0x78; // "tohosx"
  await assert.rejects(runBareElf({ elf, memBytes: 1 << 24, console: quiet }), (e: unknown) => {
    return e instanceof UserError && /tohost/.test(e.message);
  });
  await assert.rejects(
    runBareElf({ elf: bench, memBytes: 1 << 24, console: quiet, maxInstructions: 100 }),
    (e: unknown) => e instanceof UserError && /did not exit within 100 instructions/.test(e.message),
  );
  await assert.rejects(runBareElf({ elf: rv64i, memBytes: 1000, console: quiet }), UserError);
});

test("a WFI with every interrupt disabled is reported at once, under either clock", async () => {
  // The first instruction (`csrr t0, mhartid`, 0xf14022f3) becomes `wfi` (0x10500073); mie is 0 at reset.
  const elf = Uint8Array.from(rv64i);
  const view = new DataView(elf.buffer);
  const at = Buffer.from(elf).indexOf(Buffer.from([0xf3, 0x22, 0x40, 0xf1]));
  assert.ok(at > 0);
  view.setUint32(at, 0x10500073, true);
  for (const clock of [undefined, hostClock]) {
    await assert.rejects(
      runBareElf({ elf, memBytes: 1 << 24, console: quiet, clock }),
      (e: unknown) =>
        e instanceof UserError &&
        /every interrupt disabled \(mie = 0; WFI at pc 0x80000004\)/.test(e.message),
    );
  }
});
