/**
 * Dirty-page logging (live migration's pre-copy): every writer marks the pages it writes — CPU stores that
 * hit the store TLB (interpreter and translated code, which probe the same TLBs), slow-path and misaligned
 * stores, AMOs, page-table A/D updates, device DMA and loaders — and a harvest takes the marks and re-arms,
 * so a page written again after a harvest (by a store that would now hit a cached TLB entry) is marked again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ACCESS_STORE, PRIV_S } from "../../src/cpu/csr-bits.js";
import { Hart } from "../../src/cpu/hart.js";
import { translate } from "../../src/cpu/mmu.js";
import { testHart } from "../../src/cpu/testing.js";
import { CSR_SATP } from "../../src/isa/riscv/csr-names.js";
import { Jit } from "../../src/jit/jit.js";
import { bitmapCount, bitmapHas, type PageBitmap } from "../../src/memory/dirty-log.js";
import { GuestRam } from "../../src/memory/guest-ram.js";
import { PhysicalBus } from "../../src/memory/phys-bus.js";
import { A0, A1, addi, auipc, bne, jal, sd, sw, T0, T1, ZERO } from "./asm.js";

const BASE = 0x80000000;
type Mode = "off" | "always" | "on";
const MODES: Mode[] = ["off", "always", "on"];

/** amoadd.w rd, rs2, (rs1) (unprivileged spec ch. 8: funct5 00000, funct3 010, opcode AMO). */
const amoaddW = (rd: number, rs1: number, rs2: number) =>
  (0 << 27) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x2f;

function pages(bits: PageBitmap): number[] {
  const out: number[] = [];
  for (let p = 0; p < bits.length * 32; p++) if (bitmapHas(bits, p)) out.push(p);
  return out;
}

/**
 * A loop run 20 times storing to pages 16 (sd, sw) and 17 (sw), then `j .` at 0x40.
 */
function machine(mode: Mode) {
  const ram = new GuestRam(BASE, 1 << 20);
  const bus = new PhysicalBus(ram);
  const h = new Hart({ hartId: 0, bus, timer: { mtime: () => 0 } });
  if (mode !== "off") h.translator = new Jit(h, { mode, threshold: 3 });
  const prog = [
    addi(A1, ZERO, 20), // 0x00
    auipc(T0, 0x10), // 0x04: t0 = BASE + 0x10004
    addi(T0, T0, -4), // 0x08: t0 = BASE + 0x10000 (page 16)
    addi(A0, A0, 1), // 0x0c loop:
    sd(A0, T0, 0), // 0x10: page 16
    sw(A0, T0, 0x7fc), // 0x14: page 16 + 0x7fc (still 16)
    addi(T1, T0, 0x7ff), // 0x18
    addi(T1, T1, 0x7ff), // 0x1c: t1 = t0 + 0xffe (page 16 end)
    sw(A0, T1, 0x2), // 0x20: t0 + 0x1000 (page 17)
    addi(A1, A1, -1), // 0x24
    bne(A1, ZERO, 0x0c - 0x28), // 0x28: back to the loop
    jal(ZERO, 0x14), // 0x2c: to 0x40
  ];
  ram.write(BASE, new Uint8Array(Int32Array.from(prog).buffer));
  ram.write(BASE + 0x40, new Uint8Array(Int32Array.from([jal(ZERO, 0)]).buffer));
  return { ram, h };
}

function runTo(h: Hart, pc: number): void {
  let steps = 0;
  while (h.pc !== pc) {
    steps += h.run(7);
    assert.ok(steps < 100_000, `did not reach ${pc.toString(16)} (at ${h.pc.toString(16)})`);
  }
}

for (const mode of MODES) {
  test(`CPU stores mark pages, and are marked again after a harvest (jit ${mode})`, () => {
    const { ram, h } = machine(mode);
    // A first run with logging off fills the store TLB for pages 16 and 17.
    h.pc = BASE;
    runTo(h, BASE + 0x40);
    assert.equal(ram.dirtyLogging, false);
    ram.startDirtyLog();
    // The same stores again, now (without start's shoot-down) they would be TLB hits.
    h.setX(A0, 0n);
    h.pc = BASE;
    runTo(h, BASE + 0x40);
    assert.deepEqual(pages(ram.harvestDirty()), [16, 17]);
    assert.equal(bitmapCount(ram.harvestDirty()), 0, "a harvest clears the log");
    // Round two: the pages are cached writable in the TLB now; the harvest's re-arm must catch them.
    h.pc = BASE;
    runTo(h, BASE + 0x40);
    assert.deepEqual(pages(ram.harvestDirty()), [16, 17]);
    assert.equal(ram.view.getUint32(0x10000, true), 40, "the stores themselves landed");
    ram.stopDirtyLog();
    assert.throws(() => ram.harvestDirty());
  });
}

test("misaligned stores, AMOs, A/D updates, DMA, bus writes and loaders all mark their pages", () => {
  const { hart, ram, bus } = testHart({ ramBytes: 16 << 20, openPmp: true });
  const put = (off: number, words: number[]) =>
    ram.write(BASE + off, new Uint8Array(Int32Array.from(words).buffer));
  put(0, [
    auipc(T0, 0x12), // t0 = BASE + 0x12000
    addi(T0, T0, -3), // t0 = BASE + 0x11ffd: an 8-byte store straddles pages 17 and 18
    sd(A0, T0, 0),
    auipc(T1, 0x14), // t1 = BASE + 0x14000 + 12
    amoaddW(A1, T1, A0), // page 20
    jal(ZERO, 0),
  ]);
  ram.startDirtyLog();
  hart.setX(A0, 5n);
  hart.pc = BASE;
  runTo(hart, BASE + 0x14);
  assert.deepEqual(pages(ram.harvestDirty()), [17, 18, 20]);
  assert.equal(ram.view.getUint32(0x1400c, true), 5);

  // Sv39 A/D: a store translation sets A and D in the leaf PTE, which lives on page 3.
  const pte = (table: number, index: number, target: number, flags: number) =>
    ram.view.setBigUint64(table - BASE + index * 8, (BigInt(target / 4096) << 10n) | BigInt(flags), true);
  pte(BASE + 0x1000, 0, BASE + 0x2000, 1);
  pte(BASE + 0x2000, 0, BASE + 0x3000, 1);
  pte(BASE + 0x3000, 5, BASE + 0x30000, 1 | 2 | 4);
  hart.writeCsr(CSR_SATP, (8n << 60n) | BigInt((BASE + 0x1000) / 4096));
  ram.harvestDirty();
  assert.equal(translate(hart, 0x5008, ACCESS_STORE, PRIV_S), BASE + 0x30008);
  assert.deepEqual(pages(ram.harvestDirty()), [3]);

  // Device DMA (sliceForWrite), bus stores (MMIO-sized writes into RAM), loaders (write/fill).
  ram.sliceForWrite(BASE + 0x40ffc, 8);
  bus.write(BASE + 0x50000, 4, 1);
  ram.write(BASE + 0x60000, new Uint8Array(3));
  ram.fill(BASE + 0x70000, 0x2000, 0);
  assert.deepEqual(pages(ram.harvestDirty()), [0x40, 0x41, 0x50, 0x60, 0x70, 0x71]);
  // A DMA slice past RAM marks nothing.
  assert.equal(ram.sliceForWrite(BASE + ram.size - 4, 8), null);
  assert.equal(bitmapCount(ram.harvestDirty()), 0);
  // Restore replaces everything.
  ram.setAll(new Uint8Array(ram.size));
  assert.equal(bitmapCount(ram.harvestDirty()), ram.size / 4096);
});
