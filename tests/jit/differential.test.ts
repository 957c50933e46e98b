/**
 * Differential lockstep: the same fuzzed instruction streams run on two identical machines, one with the
 * interpreter alone and one with the JIT translating every block (`always`). After every step (a small
 * random budget, so region exits land everywhere inside blocks) the architectural state must be identical:
 * steps, PC, privilege, integer registers, trap CSRs, instret, and RAM (which the streams also rewrite,
 * so self-modifying code and invalidation are exercised on every run).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Hart } from "../../src/cpu/hart.js";
import { CSR_MCAUSE, CSR_MEPC, CSR_MSTATUS, CSR_MTVAL, CSR_MTVEC } from "../../src/isa/riscv/csr-names.js";
import { Jit } from "../../src/jit/jit.js";
import { GuestRam } from "../../src/memory/guest-ram.js";
import type { AccessSize, MmioDevice } from "../../src/memory/mmio.js";
import { PhysicalBus } from "../../src/memory/phys-bus.js";

function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** An MMIO device whose reads depend on the access history, so a missing or extra access shows. */
class Counter implements MmioDevice {
  readonly name = "counter";
  n = 0;
  read(offset: number, _size: AccessSize): number {
    return (offset * 31 + this.n++) >>> 0;
  }
  write(_offset: number, _size: AccessSize, value: number): void {
    this.n += value & 7;
  }
}

const RAM_BASE = 0x80000000;
const RAM_SIZE = 1 << 18;
const MMIO_BASE = 0x10000000;

function machine(words: Int32Array, regs: Int32Array, jit: boolean) {
  const ram = new GuestRam(RAM_BASE, RAM_SIZE);
  ram.i32.set(words);
  const bus = new PhysicalBus(ram);
  const dev = new Counter();
  bus.map(MMIO_BASE, 0x1000, dev);
  const hart = new Hart({ hartId: 0, bus, timer: { mtime: () => 0 } });
  hart.x.set(regs);
  hart.f.set(regs);
  hart.writeCsr(CSR_MTVEC, BigInt(RAM_BASE + 0x100));
  hart.writeCsr(CSR_MSTATUS, 1n << 13n);
  hart.pc = RAM_BASE;
  const j = jit ? new Jit(hart, { mode: "always", cacheSize: 64 }) : null;
  if (j !== null) hart.translator = j;
  return { ram, hart, dev, jit: j };
}

/** Instruction words biased to what the JIT translates: ALU, M, A, F/D, loads/stores near the registers, branches. */
function program(next: () => number): Int32Array {
  const words = new Int32Array(RAM_SIZE / 4);
  const ops = [
    0x13, 0x13, 0x1b, 0x33, 0x33, 0x3b, 0x03, 0x03, 0x23, 0x23, 0x37, 0x17, 0x63, 0x63, 0x6f, 0x67, 0x2f,
    0x53, 0x53, 0x07, 0x27, 0x43,
  ];
  // A-extension funct5 values: LR, SC and the AMOs, plus an illegal one.
  const amo = [2, 3, 2, 3, 0, 1, 4, 8, 12, 16, 20, 24, 28, 5];
  for (let i = 0; i < words.length; i++) {
    const r = next();
    const op = ops[r % ops.length];
    let w = (r & ~0x7f) | op;
    if (op === 0x33 || op === 0x3b)
      w = (w & 0x01ffffff) | ((next() % 3 === 0 ? 1 : next() % 4 === 0 ? 0x20 : 0) << 25);
    // Keep branch and jump offsets short so control stays in the program (and often in the same page).
    if (op === 0x63) w = (w & 0x01fff07f) | ((next() & 0xf) << 8) | (next() % 2 === 0 ? 0x80000000 : 0);
    if (op === 0x6f)
      w = (w & 0xfff) | ((next() & 0x3f) << 21) | (next() % 2 === 0 ? 0x80000000 | 0xff000 : 0);
    if (op === 0x67) w &= ~0x7000;
    // FP loads and stores of words and doublewords (OP-FP and FMADD keep random fields: many are illegal).
    if (op === 0x07 || op === 0x27) w = (w & ~0x7000) | ((2 + (next() & 1)) << 12);
    if (op === 0x2f) {
      // Word or doubleword; LR sometimes with the rs2 field it must not have.
      const f5 = amo[next() % amo.length];
      w = (w & 0x07ff8fff) | ((2 + (next() & 1)) << 12) | (f5 << 27);
      if (f5 === 2 && next() % 4 !== 0) w &= ~(31 << 20);
    }
    // Some compressed pairs too.
    if (i % 7 === 3) w = (next() & 0xffff) | ((next() & 0xffff) << 16);
    words[i] = w;
  }
  // The trap vector: skip the faulting instruction (mepc += 4) and return.
  const vec = 0x100 / 4;
  words[vec] = 0x341022f3; // csrr t0, mepc
  words[vec + 1] = 0x00428293; // addi t0, t0, 4
  words[vec + 2] = 0x34129073; // csrw mepc, t0
  words[vec + 3] = 0x30200073; // mret
  return words;
}

function registers(next: () => number): Int32Array {
  const x = new Int32Array(64);
  for (let i = 2; i < 64; i += 2) {
    const kind = next() % 5;
    if (kind <= 1) {
      // A RAM address (high word 0: 0x80000000 zero-extended).
      x[i] = (RAM_BASE + (next() % RAM_SIZE)) | 0;
      x[i + 1] = 0;
    } else if (kind === 2) {
      x[i] = MMIO_BASE + (next() % 0x1000);
    } else {
      x[i] = next() | 0;
      x[i + 1] = next() % 4 === 0 ? next() | 0 : 0;
    }
  }
  return x;
}

function assertSame(a: ReturnType<typeof machine>, b: ReturnType<typeof machine>, where: string): void {
  assert.equal(b.hart.pc, a.hart.pc, `${where}: pc`);
  assert.equal(b.hart.priv, a.hart.priv, `${where}: priv`);
  assert.equal(b.hart.instret, a.hart.instret, `${where}: instret`);
  for (let i = 2; i < 64; i++)
    assert.equal(b.hart.x[i], a.hart.x[i], `${where}: x${i >> 1} ${i & 1 ? "hi" : "lo"}`);
  for (let i = 0; i < 64; i++)
    assert.equal(b.hart.f[i], a.hart.f[i], `${where}: f${i >> 1} ${i & 1 ? "hi" : "lo"}`);
  assert.equal(b.hart.fflags, a.hart.fflags, `${where}: fflags`);
  for (const c of [CSR_MEPC, CSR_MCAUSE, CSR_MTVAL, CSR_MSTATUS])
    assert.equal(b.hart.readCsr(c), a.hart.readCsr(c), `${where}: csr ${c}`);
  assert.equal(b.dev.n, a.dev.n, `${where}: MMIO accesses`);
}

for (const seed of [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]) {
  test(`JIT and interpreter in lockstep on a fuzzed stream, seed ${seed}`, () => {
    const next = rng(seed * 104729);
    const words = program(next);
    const regs = registers(next);
    const a = machine(words, regs, false);
    const b = machine(words, regs, true);
    for (let step = 0; step < 1500; step++) {
      const k = 1 + (next() % 48);
      const sa = a.hart.run(k);
      const sb = b.hart.run(k);
      assert.equal(sb, sa, `step ${step}: steps`);
      assertSame(a, b, `seed ${seed} step ${step}`);
      if (step % 100 === 99) {
        assert.deepEqual(b.ram.u8, a.ram.u8, `step ${step}: RAM`);
        // Wander somewhere else now and then, as both would after a wild jump.
        const pc = RAM_BASE + ((next() % RAM_SIZE) & ~1);
        a.hart.pc = pc;
        b.hart.pc = pc;
      }
    }
    assert.ok((b.jit?.stats.regions ?? 0) > 0, "the JIT translated code");
  });
}
