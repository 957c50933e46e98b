/**
 * The cases where a translator is most likely to go wrong, each run with the interpreter alone, with the
 * JIT translating every block, and with the JIT in `on` mode at low thresholds; results must be the
 * expected ones and identical across the three: self-modifying code (before fence.i and inside one
 * block), fence.i after another hart rewrote code, code pages remapped to another virtual address and
 * aliased at two, a page fault and misaligned accesses in the middle of a block (exact epc/tval, nothing
 * later retired), an interrupt arriving during a long translated loop, and DMA into pages that held code.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Hart } from "../../src/cpu/hart.js";
import { Jit } from "../../src/jit/jit.js";
import { GuestRam } from "../../src/memory/guest-ram.js";
import { PhysicalBus } from "../../src/memory/phys-bus.js";
import {
  A0,
  A1,
  A2,
  addi,
  auipc,
  bne,
  csrrs,
  fenceI,
  jal,
  jalr,
  ld,
  lw,
  RA,
  S0,
  sw,
  T0,
  T1,
  ZERO,
} from "./asm.js";

const BASE = 0x80000000;
type Mode = "off" | "always" | "on";
const MODES: Mode[] = ["off", "always", "on"];

function machine(mode: Mode, harts = 1) {
  const ram = new GuestRam(BASE, 1 << 20);
  const bus = new PhysicalBus(ram);
  const hs: Hart[] = [];
  const jits: Jit[] = [];
  for (let id = 0; id < harts; id++) {
    const h = new Hart({ hartId: id, bus, timer: { mtime: () => 0 } });
    if (mode !== "off") {
      const j = new Jit(h, { mode, threshold: 3 });
      h.translator = j;
      jits.push(j);
    }
    h.pc = BASE;
    hs.push(h);
  }
  const put = (off: number, words: number[]) => {
    ram.write(BASE + off, new Uint8Array(Int32Array.from(words).buffer));
  };
  return { ram, harts: hs, jits, put };
}

/** Run in small batches until the hart sits at `pc` (a `j .` loop); the step bound guards against hangs. */
function runTo(h: Hart, pc: number, maxSteps = 200_000): void {
  let steps = 0;
  while (h.pc !== pc) {
    steps += h.run(37);
    assert.ok(steps < maxSteps, `did not reach ${pc.toString(16)} (at ${h.pc.toString(16)})`);
  }
}

const x = (h: Hart, r: number) => h.getX(r);

test("self-modifying code: a rewritten function after fence.i, and an instruction rewritten by the store before it", () => {
  const results: bigint[] = [];
  for (const mode of MODES) {
    const m = machine(mode);
    m.put(0x00, [
      addi(A0, ZERO, 0),
      addi(S0, ZERO, 50),
      jal(RA, 0xf8), // 0x08: call f at 0x100
      addi(S0, S0, -1),
      bne(S0, ZERO, -8),
      auipc(T0, 0), // 0x14
      lw(T1, T0, 0x1ec), // the word at 0x200
      sw(T1, T0, 0xec), // over f's first instruction at 0x100
      fenceI(),
      jal(RA, 0xdc), // 0x24: call f again
      auipc(T0, 0), // 0x28
      lw(T1, T0, 0x1dc), // the word at 0x204
      sw(T1, T0, 12), // over the instruction at 0x34, the next one in this block
      addi(A0, A0, 7), // 0x34: replaced by addi a0, a0, 1000 before it runs
      jal(ZERO, 0), // 0x38: halt
    ]);
    m.put(0x100, [addi(A0, A0, 1), jalr(ZERO, RA, 0)]);
    m.put(0x200, [addi(A0, A0, 100), addi(A0, A0, 1000)]);
    runTo(m.harts[0], BASE + 0x38);
    results.push(x(m.harts[0], A0));
    if (mode !== "off")
      assert.ok(m.jits[0].stats.invalidations > 0, `${mode}: translations were invalidated`);
  }
  assert.deepEqual(results, [1150n, 1150n, 1150n]);
});

test("fence.i on another hart: hart 1 rewrites a function hart 0 runs translated; hart 0 sees the new code", () => {
  const results: bigint[][] = [];
  for (const mode of MODES) {
    const m = machine(mode, 2);
    // Hart 0: call f forever. Hart 1 (starts at 0x400): patch f, fence.i, halt.
    m.put(0x00, [jal(RA, 0x100), jal(ZERO, -4)]);
    m.put(0x100, [addi(A0, A0, 1), jalr(ZERO, RA, 0)]);
    m.put(0x400, [auipc(T0, 0), lw(T1, T0, 0x100), sw(T1, T0, -0x300), fenceI(), jal(ZERO, 0)]);
    m.put(0x500, [addi(A0, A0, 100)]);
    const [h0, h1] = m.harts;
    h1.pc = BASE + 0x400;
    h0.run(4000); // 1000 calls: f is hot and translated
    const before = x(h0, A0);
    runTo(h1, BASE + 0x410);
    h0.run(4000);
    const after = x(h0, A0);
    results.push([before, after]);
    assert.equal(before, 1000n);
    // 1000 more calls at +100 each (the batch ends where it started in the 4-instruction loop).
    assert.equal(after - before, 100000n, `${mode}: the new code ran`);
  }
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
});

/** Sv39 tables: root at 0x10000, level-1 at 0x11000, level-0 at 0x12000; VA 0x40000000 + i*4K → pages. */
function pagedMachine(mode: Mode) {
  const m = machine(mode);
  const pte = (pa: number, flags: number) => [((pa / 4096) << 10) | flags, 0];
  m.put(0x10000 + 8 * 1, pte(BASE + 0x11000, 1)); // VPN2 = 1 (VA 0x40000000) -> level 1
  m.put(0x11000, pte(BASE + 0x12000, 1)); // VPN1 = 0 -> level 0
  const map = (vpn0: number, pa: number) => m.put(0x12000 + 8 * vpn0, pte(pa, 0xcf)); // V R W X A D
  const h = m.harts[0];
  h.writeCsr(0x180, (8n << 60n) | BigInt((BASE + 0x10000) / 4096)); // satp: Sv39
  h.writeCsr(0x305, BigInt(BASE + 0x30000)); // mtvec: a `j .` in M-mode
  m.put(0x30000, [jal(ZERO, 0)]);
  // One PMP entry granting everything: without a match, S-mode accesses fail (privileged spec 3.7.1).
  h.writeCsr(0x3b0, (1n << 54n) - 1n); // pmpaddr0: NAPOT over the whole space
  h.writeCsr(0x3a0, 0x1fn); // pmpcfg0: R W X, A = NAPOT
  h.setPrivilege(1);
  return { ...m, h, map };
}

test("code pages remapped to another virtual address, and one page aliased at two", () => {
  const results: bigint[][] = [];
  for (const mode of MODES) {
    const m = pagedMachine(mode);
    const code = (tag: number) => [auipc(A0, 0), addi(A1, ZERO, tag), jal(ZERO, 0)];
    m.put(0x20000, code(1));
    m.put(0x21000, code(2));
    m.map(0, BASE + 0x20000);
    m.map(1, BASE + 0x20000);
    const out: bigint[] = [];
    const go = (va: number) => {
      m.h.pc = va;
      runTo(m.h, va + 8);
      out.push(x(m.h, A0), x(m.h, A1));
    };
    go(0x40000000);
    go(0x40001000); // same physical page: AUIPC must see the new virtual PC
    m.map(0, BASE + 0x21000);
    m.h.flushTlb(); // what sfence.vma does
    go(0x40000000); // same virtual page, other physical page
    results.push(out);
  }
  assert.deepEqual(results[0], [0x40000000n, 1n, 0x40001000n, 1n, 0x40000000n, 2n]);
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
});

test("a page fault and misaligned accesses in the middle of a block: exact epc and tval, nothing later retired", () => {
  const results: string[] = [];
  const instrets: number[] = [];
  for (const mode of MODES) {
    const m = pagedMachine(mode);
    m.map(2, BASE + 0x22000); // code
    m.map(4, BASE + 0x24000); // data; VA 0x40005000 stays unmapped
    m.put(0x24ff0, [0x44332211, 0x88776655, 0x000000aa]);
    m.put(0x22000, [
      addi(A0, ZERO, 5),
      ld(A2, T1, 1), // misaligned, within the data page: 0x40004ff9..0x40005000 is 7 bytes, so use ff8+1 below
      addi(A1, ZERO, 6),
      ld(A2, T0, 0), // t0 = 0x40005000: unmapped -> load page fault
      addi(A0, ZERO, 99), // must not retire
      jal(ZERO, 0),
    ]);
    const h = m.h;
    h.setX(T1, 0x40004ff0n); // t1 + 1 = 0x40004ff1: misaligned, all 8 bytes in the data page
    h.setX(T0, 0x40005000n);
    h.pc = 0x40002000;
    runTo(h, BASE + 0x30000);
    results.push(
      [x(h, A0), x(h, A1), x(h, A2), h.readCsr(0x341), h.readCsr(0x342), h.readCsr(0x343)].join(","),
    );
    instrets.push(h.instret);
  }
  // a2 holds the misaligned doubleword read at 0x40004ff1 (bytes 22..88 then aa); the fault is at 0x...200c.
  const expected = [5n, 6n, 0xaa88776655443322n, 0x4000200cn, 13n, 0x40005000n].join(",");
  assert.deepEqual(results, [expected, expected, expected]);
  assert.deepEqual(instrets, [instrets[0], instrets[0], instrets[0]], "the same instructions retired");
});

test("a misaligned load crossing into an unmapped page faults with the address of the first missing byte", () => {
  const results: string[] = [];
  for (const mode of MODES) {
    const m = pagedMachine(mode);
    m.map(2, BASE + 0x22000);
    m.map(4, BASE + 0x24000);
    m.put(0x22000, [addi(A0, ZERO, 1), ld(A2, T0, 0), addi(A0, ZERO, 2), jal(ZERO, 0)]);
    const h = m.h;
    h.setX(T0, 0x40004ffcn);
    h.pc = 0x40002000;
    runTo(h, BASE + 0x30000);
    results.push([x(h, A0), h.readCsr(0x341), h.readCsr(0x342), h.readCsr(0x343)].join(","));
  }
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
  assert.equal(results[0], [1n, 0x40002004n, 13n, 0x40005000n].join(","));
});

test("an interrupt arriving during a long translated loop is taken at the next batch", () => {
  const results: bigint[][] = [];
  for (const mode of MODES) {
    const m = machine(mode);
    m.put(0x00, [addi(A0, A0, 1), jal(ZERO, -4)]);
    m.put(0x100, [csrrs(A2, 0x342, ZERO), jal(ZERO, 0)]);
    const h = m.harts[0];
    h.writeCsr(0x305, BigInt(BASE + 0x100));
    h.writeCsr(0x304, 1n << 7n); // mie.MTIE
    h.writeCsr(0x300, 1n << 3n); // mstatus.MIE
    for (let i = 0; i < 10; i++) assert.equal(h.run(1000), 1000);
    assert.equal(x(h, A0), 5000n);
    h.setMip(7, true); // the timer fires between batches, as the board delivers it
    h.run(1000);
    results.push([x(h, A0), x(h, A2), h.readCsr(0x341) as bigint, BigInt(h.pc)]);
  }
  assert.deepEqual(results[0], [5000n, (1n << 63n) | 7n, BigInt(BASE), BigInt(BASE + 0x104)]);
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
});

test("DMA into pages that held translated code (a program read from disk) drops the old translations", () => {
  for (const mode of MODES) {
    const m = machine(mode);
    const prog = (tag: number) => [addi(A1, ZERO, 0), addi(A1, A1, tag), bne(A1, ZERO, 4), jal(ZERO, 0)];
    m.put(0x3000, prog(1));
    const h = m.harts[0];
    for (let round = 0; round < 5; round++) {
      h.pc = BASE + 0x3000;
      runTo(h, BASE + 0x300c);
      assert.equal(x(h, A1), 1n);
    }
    // A virtio-blk read lands through the virtqueue's write path, GuestRam.sliceForWrite.
    const dst = m.ram.sliceForWrite(BASE + 0x3000, 16) as Uint8Array;
    dst.set(new Uint8Array(Int32Array.from(prog(2)).buffer));
    h.pc = BASE + 0x3000;
    runTo(h, BASE + 0x300c);
    assert.equal(x(h, A1), 2n, `${mode}: the new program ran`);
  }
});
