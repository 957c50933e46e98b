/** Tests for RVC expansion against GNU as/objdump pairs (fixture) and the spec's reserved encodings. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { buildRvcTable, expandCompressed, RVC_TABLE } from "./compressed.js";
import { decode } from "./decode.js";
import { type RvcPair, readFixture } from "./node/testing.js";

const PAIRS = readFixture<RvcPair[]>("rvc-pairs.json");

test("every assembler pair expands to the 32-bit encoding GNU as produced", () => {
  assert.ok(PAIRS.length > 500);
  for (const p of PAIRS) {
    const h = Number(p.c);
    const got = expandCompressed(h) >>> 0;
    assert.equal(
      got.toString(16).padStart(8, "0"),
      p.expanded.slice(2),
      `${p.asm} (${p.c}) should expand to ${p.expandedAsm}`,
    );
    assert.equal(RVC_TABLE[h], expandCompressed(h), `RVC_TABLE[${p.c}]`);
  }
});

test("the fixture covers every RV64C instruction with at least two operand patterns", () => {
  const counts = new Map<string, number>();
  for (const p of PAIRS) {
    const name = p.asm.split(" ")[0];
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  // objdump prints C.NOP as "c.addi zero,0" and the shamt=0 shift HINTs as c.slli64/c.srli64/c.srai64.
  // biome-ignore format: grouped by quadrant
  const all = [
    "c.addi4spn", "c.fld", "c.lw", "c.ld", "c.fsd", "c.sw", "c.sd",
    "c.addi", "c.addiw", "c.li", "c.addi16sp", "c.lui", "c.srli", "c.srai", "c.andi",
    "c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw", "c.j", "c.beqz", "c.bnez",
    "c.slli", "c.fldsp", "c.lwsp", "c.ldsp", "c.jr", "c.mv", "c.jalr", "c.add", "c.fsdsp", "c.swsp", "c.sdsp",
  ];
  for (const name of all)
    assert.ok((counts.get(name) ?? 0) >= 2, `${name} has ${counts.get(name) ?? 0} patterns`);
  assert.ok(counts.has("c.ebreak"));
  assert.ok(counts.has("c.slli64") && counts.has("c.srli64") && counts.has("c.srai64"));
});

test("immediate scrambles at their extreme values (spec Tables 16.5-16.7)", () => {
  const hex = (h: number) => (expandCompressed(h) >>> 0).toString(16).padStart(8, "0");
  assert.equal(hex(0x1fe8), "3fc10513"); // c.addi4spn a0,sp,1020 -> addi a0,sp,1020
  assert.equal(hex(0x7101), "e0010113"); // c.addi16sp sp,-512
  assert.equal(hex(0x617d), "1f010113"); // c.addi16sp sp,496
  assert.equal(hex(0x7785), "fffe17b7"); // c.lui a5,0xfffe1 (nzimm = -31 << 12)
  assert.equal(hex(0xb001), "801ff06f"); // c.j -2048
  assert.equal(hex(0xaffd), "7fe0006f"); // c.j +2046
  assert.equal(hex(0xd001), "f00400e3"); // c.beqz s0,-256
  assert.equal(hex(0xeffd), "0e079f63"); // c.bnez a5,+254
  assert.equal(hex(0x70fe), "1f813083"); // c.ldsp ra,504(sp)
  assert.equal(hex(0xff86), "1e113c23"); // c.sdsp ra,504(sp)
  assert.equal(hex(0x957d), "43f55513"); // c.srai a0,63
  assert.equal(hex(0x9002), "00100073"); // c.ebreak
});

test("illegal and reserved encodings expand to 0 (spec §16.5-16.8)", () => {
  const reserved: [number, string][] = [
    [0x0000, "all-zero halfword"],
    [0x0004, "C.ADDI4SPN nzuimm=0, rd'=s1"],
    [0x001c, "C.ADDI4SPN nzuimm=0, rd'=a5"],
    [0x8000, "quadrant 0 funct3=100"],
    [0x9ffc, "quadrant 0 funct3=100, all operand bits set"],
    [0x2001, "C.ADDIW rd=0 (RV32's C.JAL slot)"],
    [0x307d, "C.ADDIW rd=0, imm=-1"],
    [0x6101, "C.ADDI16SP nzimm=0"],
    [0x6501, "C.LUI a0 nzimm=0"],
    [0x6001, "C.LUI x0 nzimm=0"],
    [0x9c41, "reserved C.SUBW/C.ADDW neighbour (funct2=10)"],
    [0x9fe1, "reserved C.SUBW/C.ADDW neighbour (funct2=11)"],
    [0x4002, "C.LWSP rd=0"],
    [0x507e, "C.LWSP rd=0, all offset bits"],
    [0x6002, "C.LDSP rd=0"],
    [0x707e, "C.LDSP rd=0, all offset bits"],
    [0x8002, "C.JR rs1=0"],
  ];
  for (const [h, what] of reserved) {
    assert.equal(expandCompressed(h), 0, what);
    assert.equal(RVC_TABLE[h], 0, what);
  }
  // Not compressed at all: low bits 11.
  for (const h of [0x0003, 0x0013, 0xffff, 0x8003]) {
    assert.equal(expandCompressed(h), 0);
    assert.equal(RVC_TABLE[h], 0);
  }
  // Neighbours of reserved encodings that are legal.
  assert.notEqual(expandCompressed(0x2505), 0, "C.ADDIW a0,1 (RV64: not C.JAL)");
  assert.equal(decode(expandCompressed(0x2505))?.name, "addiw");
  assert.equal(decode(expandCompressed(0x2501))?.name, "addiw", "C.ADDIW a0,0 is sext.w");
  assert.equal(decode(expandCompressed(0x2002))?.name, "fld", "C.FLDSP f0 is legal");
  assert.equal(decode(expandCompressed(0x6105))?.name, "addi", "rd=2 in the C.LUI slot is C.ADDI16SP");
});

test("reserved encodings number exactly as the spec tables imply", () => {
  // Q0: C.ADDI4SPN nzuimm=0 (8 rd' values) + funct3=100 (2^11: bits 12:2). Q1: C.ADDIW rd=0 (2^6), C.ADDI16SP 0 (1),
  // C.LUI nzimm=0 with rd != 2 (31), funct6=100111 with funct2 10/11 (8*8*2). Q2: C.LWSP/C.LDSP rd=0 (2*2^6),
  // C.JR x0 (1).
  const expected = 8 + 2048 + 64 + 1 + 31 + 128 + 128 + 1;
  let zeros = 0;
  for (let h = 0; h < 0x10000; h++) if ((h & 3) !== 3 && RVC_TABLE[h] === 0) zeros++;
  assert.equal(zeros, expected);
});

test("exactly the halfwords objdump rejects are illegal, apart from two documented differences", () => {
  const objdumpIllegal = new Set(readFixture<string[]>("rvc-objdump-illegal.json").map(Number));
  // objdump decodes these two although the spec does not: 0x0000 is defined illegal (§16.5, objdump calls it
  // c.unimp) and C.ADDI16SP with nzimm=0 is reserved (§16.5); binutils prints it as c.addi16sp sp,0.
  const specOnly = new Set([0x0000, 0x6101]);
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 3) === 3) continue;
    const illegal = RVC_TABLE[h] === 0;
    assert.equal(illegal, objdumpIllegal.has(h) || specOnly.has(h), `0x${h.toString(16)}`);
  }
});

test("every legal expansion is a valid RV64GC instruction that RVC may express", () => {
  // biome-ignore format: a set of names
  const allowed = new Set([
    "addi", "addiw", "lui", "slli", "srli", "srai", "andi", "sub", "xor", "or", "and", "subw", "addw", "add",
    "jal", "jalr", "beq", "bne", "lw", "ld", "sw", "sd", "fld", "fsd", "ebreak",
  ]);
  for (let h = 0; h < 0x10000; h++) {
    const w = RVC_TABLE[h];
    if (w === 0) continue;
    const d = decode(w);
    assert.ok(d !== null, `0x${h.toString(16)} expands to an undecodable word`);
    assert.ok(allowed.has(d.name), `0x${h.toString(16)} expands to ${d.name}`);
  }
});

// The build time is a figure for the benchmark (tests/bench/cpu.bench.ts), not a test outcome.
test("the table equals expandCompressed everywhere, and a rebuild gives the same table", () => {
  for (let h = 0; h < 0x10000; h++) assert.equal(RVC_TABLE[h], (h & 3) === 3 ? 0 : expandCompressed(h));
  assert.deepEqual(buildRvcTable(), RVC_TABLE);
});
