/** Tests for the disassembler against GNU objdump text (fixture), with and without pseudo-instructions. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { csrName } from "./csr-names.js";
import { decode } from "./decode.js";
import { disassemble } from "./disasm.js";
import { type ObjdumpLine, readFixture } from "./node/testing.js";

const LINES = readFixture<ObjdumpLine[]>("rv64gc-objdump.json");

/**
 * True when objdump names a CSR this project's table does not (binutils also knows vector, AIA, smstateen,
 * ... CSRs); we then print the number in hex, as objdump does for CSRs it does not know.
 */
function csrUnknownToUs(insn: number): boolean {
  const d = decode(insn);
  return d !== null && (d.format === "CSR" || d.format === "CSRI") && csrName(d.csr) === undefined;
}

test("without aliases the text equals objdump -M no-aliases for every fixture word", () => {
  let compared = 0;
  for (const l of LINES) {
    const w = Number(l.insn);
    const ours = disassemble(w, Number(l.pc), { aliases: false });
    if (l.text.startsWith(".4byte") && decode(w) !== null) continue; // reserved FENCE fields: see decode.test
    if (csrUnknownToUs(w)) {
      assert.match(ours, new RegExp(`,0x${(w >>> 20).toString(16)}(,|$)`), l.text);
      continue;
    }
    assert.equal(ours, l.text, l.insn);
    compared++;
  }
  assert.ok(compared > 1500);
});

/**
 * objdump aliases that are binutils conventions rather than the spec's pseudo-instructions (Unprivileged
 * spec chapter 25), each with what we print instead: immediate forms printed under the register form's
 * name (`add a0,a1,-5` for addi; `csrw mstatus,3` where the spec says `csrwi`), jalr with an implicit ra or
 * zero offset, and fsrmi/fsflagsi with an explicit zero destination (the spec's form omits it). `null` means
 * the canonical (no-alias) text.
 */
const BINUTILS_ONLY_ALIASES: readonly [RegExp, string | null][] = [
  [/^(add|xor|or|and|addw|sll|srl|sra|sllw|srlw|sraw) \w+,\w+,(-?\d+|0x[0-9a-f]+)$/, null],
  [/^csrr[wsc] \w+,\w+,\d+$/, null],
  [/^(csr[wsc]) (\w+,\d+)$/, "$1i $2"],
  [/^(jalr|jr) -?\d+\(\w+\)$/, null],
  [/^jalr \w+,\w+$/, null],
  [/^(fs(?:rm|flags)i) zero,(\d+)$/, "$1 $2"],
];

test("with aliases the text equals objdump -d, except binutils-only aliases", () => {
  let same = 0;
  let binutilsOnly = 0;
  for (const l of LINES) {
    const w = Number(l.insn);
    if ((l.text.startsWith(".4byte") && decode(w) !== null) || csrUnknownToUs(w)) continue;
    const ours = disassemble(w, Number(l.pc));
    const quirk = BINUTILS_ONLY_ALIASES.find(([re]) => re.test(l.alias));
    if (quirk !== undefined) {
      const [re, replacement] = quirk;
      assert.equal(
        ours,
        replacement === null ? l.text : l.alias.replace(re, replacement),
        `objdump: ${l.alias}`,
      );
      binutilsOnly++;
    } else {
      assert.equal(ours, l.alias, l.insn);
      same++;
    }
  }
  assert.ok(same > 1500 && binutilsOnly > 0);
});

test("the spec's pseudo-instructions (Tables 25.2, 25.3)", () => {
  const cases: [number, string][] = [
    [0x00000013, "nop"],
    [0xffb00513, "li a0,-5"],
    [0x00058513, "mv a0,a1"],
    [0xfff5c513, "not a0,a1"],
    [0x40b00533, "neg a0,a1"],
    [0x0005851b, "sext.w a0,a1"],
    [0x0015b513, "seqz a0,a1"],
    [0x00b03533, "snez a0,a1"],
    [0x00008067, "ret"],
    [0x00050067, "jr a0"],
    [0x000500e7, "jalr a0"],
    [0x30002573, "csrr a0,mstatus"],
    [0x30059073, "csrw mstatus,a1"],
    [0xc0102573, "rdtime a0"],
    [0x00302573, "frcsr a0"],
    [0x0021d073, "fsrmi 3"],
    [0x0011d573, "fsflagsi a0,3"],
    [0x22b58553, "fmv.d fa0,fa1"],
    [0x20b59553, "fneg.s fa0,fa1"],
    [0x0ff0000f, "fence"],
    [0x12000073, "sfence.vma"],
    [0x12050073, "sfence.vma a0"],
  ];
  for (const [w, text] of cases) assert.equal(disassemble(w), text, w.toString(16));
  // The same words without aliases.
  assert.equal(disassemble(0x00000013, 0, { aliases: false }), "addi zero,zero,0");
  assert.equal(disassemble(0x00008067, 0, { aliases: false }), "jalr zero,0(ra)");
  assert.equal(disassemble(0x0ff0000f, 0, { aliases: false }), "fence iorw,iorw");
});

test("branch and jump targets are absolute 64-bit addresses", () => {
  assert.equal(disassemble(0x0000006f, -0x80000000), "j ffffffff80000000"); // jal zero,0 at a kernel address
  assert.equal(disassemble(0x0000006f, 0xffffffff80000000n), "j ffffffff80000000");
  assert.equal(disassemble(0x80b50063, 0x1000, { aliases: false }), "beq a0,a1,0");
  assert.equal(disassemble(0x800000ef, 0), "jal fffffffffff00000");
});

test("compressed instructions print as their expansion; illegal ones as .2byte", () => {
  assert.equal(disassemble(0x0505), "addi a0,a0,1"); // c.addi a0,1
  assert.equal(disassemble(0xffff0505), "addi a0,a0,1"); // upper halfword ignored
  assert.equal(disassemble(0x4515), "li a0,5"); // c.li
  assert.equal(disassemble(0x852e), "mv a0,a1"); // c.mv (add a0,zero,a1)
  assert.equal(disassemble(0x852e, 0, { aliases: false }), "add a0,zero,a1");
  assert.equal(disassemble(0x8082), "ret"); // c.jr ra
  assert.equal(disassemble(0x9002), "ebreak");
  assert.equal(disassemble(0xa001, 0x100), "j 100"); // c.j 0
  assert.equal(disassemble(0x0000), ".2byte 0x0");
  assert.equal(disassemble(0x6101), ".2byte 0x6101"); // C.ADDI16SP with nzimm=0 is reserved
  assert.equal(disassemble(0xffffffff), ".4byte 0xffffffff");
});
