/** CPU benchmark: an integer-heavy bare program on the tvisor interpreter, and the same ELF on QEMU for the ratio. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildRvcTable } from "../../src/isa/riscv/compressed.js";
import type { Jit } from "../../src/jit/jit.js";
import { runBareElf } from "../../src/machine/bare-runner.js";

const here = dirname(fileURLToPath(import.meta.url));
// dist/tests/bench -> tests/bench/cpu (the ELF is committed; tests/isa/build.sh rebuilds it).
const elfPath = join(here, "..", "..", "..", "tests", "bench", "cpu", "cpu-bench.elf");

async function runOnce(elf: Uint8Array, jit: "off" | "on") {
  let jits: Jit[] = [];
  const t0 = performance.now();
  const r = await runBareElf({
    elf,
    memBytes: 16 * 1024 * 1024,
    console: { write: () => {}, onInput: () => {} },
    jit,
    onJit: (j) => (jits = j),
  });
  const secs = (performance.now() - t0) / 1000;
  if (r.exitCode !== 0) throw new Error(`cpu-bench exited with ${r.exitCode}`);
  return { instructions: r.instructions, secs, mips: r.instructions / secs / 1e6, stats: jits[0]?.stats };
}

export async function bench(): Promise<void> {
  // Start-up cost of the RVC expansion table (65536 entries), paid once per process.
  const b0 = performance.now();
  buildRvcTable();
  console.log(`RVC expansion table built in ${(performance.now() - b0).toFixed(1)} ms`);
  const elf = readFileSync(elfPath);
  const interp = await runOnce(elf, "off");
  console.log(
    `tvisor interpreter: ${interp.instructions} instructions in ${interp.secs.toFixed(2)} s = ${interp.mips.toFixed(1)} MIPS`,
  );
  const jit = await runOnce(elf, "on");
  const st = jit.stats;
  console.log(
    `tvisor JIT (--jit on): ${jit.secs.toFixed(2)} s = ${jit.mips.toFixed(1)} MIPS (${(jit.mips / interp.mips).toFixed(2)}x the interpreter); ` +
      (st
        ? `${st.regions} regions (${st.blocks} blocks, ${st.guestInsns} guest instructions) in ${st.modules} modules, ` +
          `${st.wasmBytes} bytes of wasm, compile ${st.compileMs.toFixed(0)} ms, ${st.regionCalls} calls into translated code; `
        : "") +
      `RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
  const r = { instructions: jit.instructions };
  const mips = jit.mips;

  const probe = spawnSync("qemu-system-riscv64", ["--version"], { encoding: "utf8" });
  if (probe.status !== 0) {
    console.log("qemu-system-riscv64 not installed: no QEMU comparison");
    return;
  }
  const q0 = performance.now();
  const q = spawnSync(
    "qemu-system-riscv64",
    ["-M", "spike", "-m", "256M", "-bios", "none", "-nographic", "-monitor", "none", "-kernel", elfPath],
    { encoding: "utf8", timeout: 600_000 },
  );
  const qsecs = (performance.now() - q0) / 1000;
  if (q.status !== 0) {
    console.log(`QEMU run failed (status ${q.status}): ${q.stderr.trim()}`);
    return;
  }
  const qmips = r.instructions / qsecs / 1e6;
  console.log(
    `QEMU ${probe.stdout.split("\n")[0].replace("QEMU emulator version ", "")} (TCG, -M spike, incl. startup): ` +
      `${qsecs.toFixed(2)} s = ${qmips.toFixed(1)} MIPS; tvisor/QEMU speed ratio: JIT ${(mips / qmips).toFixed(3)}, ` +
      `interpreter ${(interp.mips / qmips).toFixed(3)}`,
  );
}
