/**
 * Hostile-guest fuzz of the CPU: random instruction streams, random register contents and random CSR
 * writes must only ever produce guest traps, never a host exception, and never touch memory outside RAM.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { Hart } from "../../src/cpu/hart.js";
import { CSR_MSTATUS, CSR_MTVEC } from "../../src/isa/riscv/csr-names.js";
import { GuestRam } from "../../src/memory/guest-ram.js";
import type { AccessSize, MmioDevice } from "../../src/memory/mmio.js";
import { PhysicalBus } from "../../src/memory/phys-bus.js";

/** xorshift32: deterministic, so a failure reproduces from its seed. */
function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** A device that records accesses, to show MMIO stays inside its window. */
class Probe implements MmioDevice {
  readonly name = "probe";
  accesses = 0;
  read(offset: number, _size: AccessSize): number {
    assert.ok(offset >= 0 && offset < 0x1000);
    this.accesses++;
    return offset;
  }
  write(offset: number, _size: AccessSize, _value: number): void {
    assert.ok(offset >= 0 && offset < 0x1000);
    this.accesses++;
  }
}

const RAM_BASE = 0x80000000;
const RAM_SIZE = 1 << 20;

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`random instruction stream, seed ${seed}, traps only`, () => {
    const next = rng(seed * 7919);
    const ram = new GuestRam(RAM_BASE, RAM_SIZE);
    const bus = new PhysicalBus(ram);
    bus.map(0x10000000, 0x1000, new Probe());
    const hart = new Hart({ hartId: 0, bus, timer: { mtime: () => 0 } });
    // Bias the stream towards real opcodes so it gets past decode, plus a trap vector that loops back.
    const opcodes = [
      0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33, 0x37, 0x3b, 0x43, 0x53, 0x63, 0x67, 0x6f,
      0x73,
    ];
    for (let i = 0; i < RAM_SIZE / 4; i++) {
      const r = next();
      ram.i32[i] = i % 3 === 0 ? r : (r & ~0x7f) | opcodes[r % opcodes.length];
    }
    for (let i = 2; i < 64; i++) {
      const kind = next() % 4;
      hart.x[i] = kind === 0 ? next() | 0 : kind === 1 ? (RAM_BASE + (next() % RAM_SIZE)) | 0 : next() % 64;
    }
    for (let i = 2; i < 64; i += 2) hart.x[i + 1] = next() % 3 === 0 ? next() | 0 : 0;
    hart.writeCsr(CSR_MTVEC, BigInt(RAM_BASE + 0x100));
    hart.writeCsr(CSR_MSTATUS, 1n << 13n); // FS=Initial so FP instructions run
    hart.pc = RAM_BASE;
    let steps = 0;
    for (let batch = 0; batch < 200; batch++) {
      steps += hart.run(1000);
      // Keep the guest moving if it parked itself in WFI or drifted far away.
      hart.waitingForInterrupt = false;
      if (batch % 20 === 0) hart.pc = RAM_BASE + (next() % RAM_SIZE) - ((next() % RAM_SIZE) & 1);
    }
    assert.ok(steps > 0);
    assert.equal(hart.x[0], 0);
    assert.equal(hart.x[1], 0);
  });
}
