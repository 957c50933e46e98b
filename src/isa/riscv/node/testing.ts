/** Test-only: loads the GNU binutils fixtures under src/isa/riscv/fixtures/ that the decoder tests compare against. */
import { readFileSync } from "node:fs";

/** One word of rv64gc-objdump.json: objdump's text without (`text`) and with (`alias`) pseudo-instructions. */
export interface ObjdumpLine {
  pc: string;
  insn: string;
  text: string;
  alias: string;
}

/** One entry of rvc-pairs.json: a compressed word, its assembly, and GNU as's 32-bit expansion. */
export interface RvcPair {
  c: string;
  asm: string;
  expanded: string;
  expandedAsm: string;
}

/** Fixtures stay in the source tree (tsc does not copy JSON); compiled tests run from dist/src/isa/riscv/. */
export function readFixture<T>(name: string): T {
  return JSON.parse(
    readFileSync(new URL(`../../../../../src/isa/riscv/fixtures/${name}`, import.meta.url), "utf8"),
  );
}
