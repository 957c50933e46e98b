/** Runs every committed ISA test program (tests/isa/bin/*.elf) on the tvisor CPU; each must exit through HTIF with 0. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { CharBackend } from "../../src/io/char-backend.js";
import type { Clock } from "../../src/io/clock.js";
import { hostClock } from "../../src/io/node/clock.js";
import { runBareElf } from "../../src/machine/bare-runner.js";

// dist/tests/isa/ -> tests/isa/bin (the ELFs are committed sources, not build output).
const here = dirname(fileURLToPath(import.meta.url));
const binDir = join(here, "..", "..", "..", "tests", "isa", "bin");
const programs = readdirSync(binDir)
  .filter((f) => f.endsWith(".elf"))
  .sort();

/** Collects console output so a failure message can show it. */
function captureConsole(): { backend: CharBackend; text: () => string } {
  const chunks: Uint8Array[] = [];
  return {
    backend: { write: (d) => chunks.push(d.slice()), onInput: () => {} },
    text: () => Buffer.concat(chunks).toString("latin1"),
  };
}

test("the ISA program set is present", () => {
  assert.ok(programs.length >= 10, `expected the ISA programs in ${binDir}, found ${programs.length}`);
});

// Under the virtual clock (deterministic, as the suite's reference) and as `tvisor run --bios none
// --cpus 2` runs them: host clock, a second hart that the harness parks. A program's outcome must not
// depend on how fast time passes or on the hart count (an interrupt that fires before the program's
// WFI once made interrupts.elf sleep forever on the host clock, and harts ran the cases concurrently).
const variants: Array<{ label: string; clock?: Clock; harts: number }> = [
  { label: "", harts: 1 },
  { label: " (host clock, 2 harts)", clock: hostClock, harts: 2 },
];

for (const name of programs) {
  for (const v of variants)
    test(`isa: ${name.replace(/\.elf$/, "")}${v.label}`, async () => {
      const out = captureConsole();
      const r = await runBareElf({
        elf: readFileSync(join(binDir, name)),
        memBytes: 64 * 1024 * 1024,
        console: out.backend,
        maxInstructions: 50_000_000,
        clock: v.clock,
        harts: v.harts,
      });
      // A nonzero status is the number of the failing case (the program's gp register, riscv-tests style).
      assert.equal(
        r.exitCode,
        0,
        `${name}: failing case ${r.exitCode}; console: ${JSON.stringify(out.text())}`,
      );
      assert.ok(r.instructions > 0);
    });
}
