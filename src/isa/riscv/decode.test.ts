/** Tests for the instruction table and decoder against GNU objdump output (fixture) and hand-checked fields. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { CSR_MSTATUS, CSR_NAMES, csrIsReadOnly, csrMinPrivilege, csrName, csrNumber } from "./csr-names.js";
import { decode, decodeFetched, instructionLength, lookupOpcode } from "./decode.js";
import { type ObjdumpLine, readFixture } from "./node/testing.js";
import { OPCODE_INDEX, OPCODES } from "./opcodes.js";

const LINES = readFixture<ObjdumpLine[]>("rv64gc-objdump.json");

/** objdump's mnemonic with the AMO ordering suffix removed (decode reports aq/rl as fields). */
function baseMnemonic(text: string): string {
  return text.split(" ")[0].replace(/\.(aqrl|aq|rl)$/, "");
}

test("the table is well formed: unique names, match within mask, no ambiguous overlaps", () => {
  assert.equal(OPCODE_INDEX.size, OPCODES.length);
  for (const e of OPCODES) {
    assert.equal((e.match & ~e.mask) >>> 0, 0, `${e.name}: match has bits outside mask`);
    assert.equal(e.match & 3, 3, `${e.name}: 32-bit instructions end in 11`);
  }
  // Two entries overlap when some word matches both; only fence.tso (a special FENCE) may overlap, and it is
  // strictly more specific so the decoder prefers it.
  for (let i = 0; i < OPCODES.length; i++) {
    for (let j = i + 1; j < OPCODES.length; j++) {
      const a = OPCODES[i];
      const b = OPCODES[j];
      if (((a.match ^ b.match) & a.mask & b.mask) !== 0) continue;
      assert.deepEqual([a.name, b.name].sort(), ["fence", "fence.tso"], `${a.name} overlaps ${b.name}`);
    }
  }
  assert.equal(decode(0x8330000f)?.name, "fence.tso");
  assert.equal(decode(0x0330000f)?.name, "fence");
});

test("the table holds every RV64GC instruction and the privileged ones", () => {
  const exts = new Map<string, number>();
  for (const e of OPCODES) exts.set(e.ext, (exts.get(e.ext) ?? 0) + 1);
  // Counts per the spec's listings (chapter 24): RV64I with FENCE.TSO, ECALL, EBREAK; F and D with RV64 forms.
  assert.deepEqual(Object.fromEntries(exts), {
    I: 53,
    Zifencei: 1,
    Zicsr: 6,
    M: 13,
    A: 22,
    F: 30,
    D: 32,
    Priv: 4,
  });
});

test("every objdump line decodes to the same instruction; objdump's invalid words are null", () => {
  let valid = 0;
  for (const l of LINES) {
    const d = decode(Number(l.insn));
    if (l.text.startsWith(".4byte")) {
      // The spec says FENCE and FENCE.I ignore their reserved fields (fm/rs1/rd, imm/rs1/rd: §2.7, §3.1),
      // so they decode; binutils insists those fields are zero.
      if (d !== null) assert.ok(d.name === "fence" || d.name === "fence.i", `${l.insn} decodes as ${d.name}`);
      continue;
    }
    valid++;
    assert.ok(d !== null, `${l.insn} (${l.text}) did not decode`);
    assert.equal(d.name, baseMnemonic(l.text), l.insn);
    assert.equal(d.insn, Number(l.insn));
  }
  assert.ok(valid > 1000);
});

test("the fixture exercises every table entry", () => {
  const seen = new Set<string>();
  for (const l of LINES) if (!l.text.startsWith(".4byte")) seen.add(baseMnemonic(l.text));
  for (const e of OPCODES) assert.ok(seen.has(e.name), `${e.name} missing from fixture`);
});

test("immediates and fields at their extremes", () => {
  const d = (w: number) => {
    const r = decode(w);
    assert.ok(r !== null, w.toString(16));
    return r;
  };
  assert.equal(d(0xfffff537).imm, -4096); // lui a0,0xfffff: shifted and sign-extended
  assert.equal(d(0x80000537).imm, -0x80000000);
  assert.equal(d(0x7ffff537).imm, 0x7ffff000);
  assert.equal(d(0x80a13023).imm, -2048); // sd a0,-2048(sp)
  assert.equal(d(0x7ff5a503).imm, 2047); // lw a0,2047(a1)
  assert.equal(d(0x80b50063).imm, -4096); // beq a0,a1,.-4096
  assert.equal(d(0x7eb50fe3).imm, 4094);
  assert.equal(d(0x800000ef).imm, -1048576); // jal ra,.-1MiB
  assert.equal(d(0x7ffff0ef).imm, 1048574);
  const slli = d(0x03f59513); // slli a0,a1,63
  assert.equal(slli.shamt, 63);
  assert.deepEqual([slli.rd, slli.rs1], [10, 11]);
  const csr = d(0x30059573); // csrrw a0,mstatus,a1
  assert.deepEqual([csr.csr, csr.rd, csr.rs1], [CSR_MSTATUS, 10, 11]);
  const csri = d(0x003fd573); // csrrwi a0,fcsr,31
  assert.deepEqual([csri.csr, csri.imm], [3, 31]);
  const amo = d(0x06b6252f); // amoadd.w.aqrl a0,a1,(a2)
  assert.deepEqual([amo.aq, amo.rl, amo.rd, amo.rs1, amo.rs2], [true, true, 10, 12, 11]);
  const fma = d(0x6ac5c543); // fmadd.d fa0,fa1,fa2,fa3,rmm
  assert.deepEqual([fma.rd, fma.rs1, fma.rs2, fma.rs3, fma.rm], [10, 11, 12, 13, 4]);
  const fence = d(0x0310000f); // fence rw,w
  assert.deepEqual([fence.pred, fence.succ, fence.fm], [3, 1, 0]);
  assert.equal(d(0x8330000f).name, "fence.tso");
  assert.equal(d(0x12b50073).name, "sfence.vma");
});

test("words that are not RV64GC instructions decode to null", () => {
  for (const w of [0x00000000, 0xffffffff, 0x0000707f, 0x02000073, 0x00200073, 0x0200101b, 0x4000101b]) {
    assert.equal(decode(w), null, w.toString(16));
    assert.equal(lookupOpcode(w), -1);
  }
  assert.equal(decode(0x1005a52f)?.name, "lr.w"); // lr.w a0,(a1) decodes...
  assert.equal(decode(0x1015a52f), null); // ...but lr.w with rs2 != 0 is reserved
  assert.equal(decode(0x12b50173), null); // sfence.vma with rd != 0
});

test("decodeFetched expands compressed instructions and ignores the following halfword", () => {
  assert.equal(decodeFetched(0xffff0505)?.name, "addi"); // c.addi a0,1 followed by garbage
  assert.equal(decodeFetched(0x0505)?.imm, 1);
  assert.equal(decodeFetched(0x0000), null);
  assert.equal(decodeFetched(0x00c58533)?.name, "add");
  assert.equal(instructionLength(0x0505), 2);
  assert.equal(instructionLength(0x8533), 4);
});

test("CSR names agree with objdump (priv spec 1.12) and round-trip", () => {
  const objdump = readFixture<Record<string, string>>("csr-objdump.json");
  for (const [num, name] of CSR_NAMES) {
    assert.equal(objdump[String(num)], name, `CSR 0x${num.toString(16)}`);
    assert.equal(csrNumber(name), num);
    assert.equal(csrName(num), name);
  }
  // The brief's required set.
  // biome-ignore format: pairs
  const required: [string, number][] = [
    ["mstatus", 0x300], ["stimecmp", 0x14d], ["mseccfg", 0x747], ["menvcfg", 0x30a], ["senvcfg", 0x10a],
    ["mconfigptr", 0xf15], ["pmpcfg15", 0x3af], ["pmpaddr63", 0x3ef], ["hpmcounter31h", 0xc9f],
    ["mhpmcounter3", 0xb03], ["mhpmevent31", 0x33f], ["cycleh", 0xc80], ["fcsr", 3], ["satp", 0x180],
  ];
  for (const [name, num] of required) assert.equal(csrNumber(name), num, name);
  assert.equal(csrName(0x7c0), undefined);
  // Privileged spec §2.1 address conventions.
  assert.equal(csrIsReadOnly(0xc00), true);
  assert.equal(csrIsReadOnly(0xf14), true);
  assert.equal(csrIsReadOnly(0x300), false);
  assert.deepEqual([0xc00, 0x100, 0x600, 0x300].map(csrMinPrivilege), [0, 1, 2, 3]);
});
