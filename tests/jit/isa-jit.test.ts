/**
 * Every ISA test program (tests/isa/bin, the SMP program and the CPU benchmark kernel) under `--jit always`
 * and `--jit on` must end exactly as under the interpreter: same exit status, same console output and the
 * same number of instructions (the JIT retires exactly what the interpreter would in every batch).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Jit, JitSetting } from "../../src/jit/jit.js";
import { runBareElf } from "../../src/machine/bare-runner.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..", "tests");
const programs: Array<{ name: string; path: string; harts: number }> = [
  ...readdirSync(join(root, "isa", "bin"))
    .filter((f) => f.endsWith(".elf"))
    .sort()
    .map((f) => ({ name: f, path: join(root, "isa", "bin", f), harts: 1 })),
  { name: "smp4.elf (4 harts)", path: join(root, "isa", "smp", "smp4.elf"), harts: 4 },
];

async function runWith(path: string, harts: number, jit: JitSetting, maxInstructions = 50_000_000) {
  let out = "";
  let jits: Jit[] = [];
  const r = await runBareElf({
    elf: readFileSync(path),
    memBytes: 64 * 1024 * 1024,
    console: { write: (d) => (out += Buffer.from(d).toString("latin1")), onInput: () => {} },
    maxInstructions,
    harts,
    jit,
    onJit: (j) => (jits = j),
  });
  return { ...r, out, jits };
}

for (const p of programs) {
  test(`jit always/on = interpreter: ${p.name}`, async () => {
    const ref = await runWith(p.path, p.harts, "off");
    for (const mode of ["always", "on"] as const) {
      const r = await runWith(p.path, p.harts, mode);
      assert.equal(r.exitCode, ref.exitCode, `${mode}: exit status; console ${JSON.stringify(r.out)}`);
      assert.equal(r.out, ref.out, `${mode}: console output`);
      assert.equal(r.instructions, ref.instructions, `${mode}: instructions retired`);
      assert.ok(r.jits.length === p.harts, "a JIT per hart");
      if (mode === "always") assert.ok(r.jits[0].stats.regions > 0, "code was translated");
    }
  });
}

test("the CPU benchmark kernel: same result and instruction count with the JIT, mostly translated", async () => {
  const path = join(root, "bench", "cpu", "cpu-bench.elf");
  const ref = await runWith(path, 1, "off", 400_000_000);
  const r = await runWith(path, 1, "on", 400_000_000);
  assert.equal(ref.exitCode, 0);
  assert.equal(r.exitCode, 0);
  assert.equal(r.instructions, ref.instructions);
  assert.ok(r.jits[0].stats.regions > 0);
});
