/**
 * Hostile-guest fuzz of the CPU: random instruction streams, random register contents and random CSR
 * writes must only ever produce guest traps, never a host exception, and never touch memory outside RAM.
 *
 * "Outside RAM" is checked two ways. Out-of-range typed-array accesses are silently dropped in JS, so RAM's
 * views are wrapped to record every element access outside them; and the rest of the host buffer RAM lives
 * in (the other harts' register and TLB blocks, the slack after RAM) must come out byte-for-byte unchanged.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { prng } from "../../src/base/testing.js";
import { CAUSE_ILLEGAL_INSTRUCTION, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS } from "../../src/cpu/csr-bits.js";
import { TEST_RAM_BASE, testHart } from "../../src/cpu/testing.js";
import {
  CSR_MCAUSE,
  CSR_MEPC,
  CSR_MSTATUS,
  CSR_MTVEC,
  CSR_PMPADDR0,
  CSR_PMPCFG0,
} from "../../src/isa/riscv/csr-names.js";
import { INSN_MRET } from "../../src/isa/riscv/opcodes.js";
import { GuestRam, HART_BLOCK_SIZE } from "../../src/memory/guest-ram.js";
import type { AccessSize, MmioDevice } from "../../src/memory/mmio.js";

/** Where the probe device sits, and its size. */
const PROBE_BASE = 0x10000000;
const PROBE_SIZE = 0x1000;

/** A device that records accesses, to show MMIO stays inside its window. */
class Probe implements MmioDevice {
  readonly name = "probe";
  accesses = 0;
  readonly outside: number[] = [];
  read(offset: number, _size: AccessSize): number {
    this.note(offset);
    return offset;
  }
  write(offset: number, _size: AccessSize, _value: number): void {
    this.note(offset);
  }
  private note(offset: number): void {
    if (!(offset >= 0 && offset < PROBE_SIZE)) this.outside.push(offset);
    this.accesses++;
  }
}

const VIEWS = ["u8", "i8", "u16", "i16", "i32", "u32", "f64"] as const;

/** Guest RAM whose typed views record every element access outside RAM instead of dropping it silently. */
class GuardedRam extends GuestRam {
  readonly outside: string[] = [];
  accesses = 0;
  constructor(base: number, size: number) {
    super(base, size);
    for (const name of VIEWS) Object.defineProperty(this, name, { value: this.guard(name, this[name]) });
  }

  private guard<T extends object & { length: number }>(name: string, view: T): T {
    const check = (key: string | symbol): void => {
      if (typeof key !== "string") return;
      const i = Number(key);
      if (key === "" || Number.isNaN(i) || String(i) !== key) return; // a property, not an element
      this.accesses++;
      if (!(Number.isInteger(i) && i >= 0 && i < view.length) && this.outside.length < 10)
        this.outside.push(`${name}[${key}]`);
    };
    return new Proxy(view, {
      get(t, key) {
        check(key);
        const v = Reflect.get(t, key, t);
        return typeof v === "function" ? v.bind(t) : v;
      },
      set(t, key, value) {
        check(key);
        return Reflect.set(t, key, value, t);
      },
    });
  }
}

/** RAM one page short of a whole number of 64 KiB wasm pages, so the host buffer has slack after it. */
const RAM_SIZE = (1 << 20) - 4096;

test("the guard sees accesses outside RAM that typed arrays would drop", () => {
  const ram = new GuardedRam(TEST_RAM_BASE, RAM_SIZE);
  ram.u8[RAM_SIZE] = 1;
  void ram.i32[-1];
  ram.u8[0] = 1;
  assert.deepEqual(ram.outside, [`u8[${RAM_SIZE}]`, "i32[-1]"]);
  assert.equal(ram.accesses, 3);
});

/** The host buffer outside RAM and outside the hart's own block (register file, TLBs). */
function outsideRamAndHart(ram: GuestRam): Uint8Array {
  const all = new Uint8Array(ram.buffer);
  const before = all.subarray(HART_BLOCK_SIZE, ram.ramOffset);
  const after = all.subarray(ram.ramOffset + ram.size);
  return Uint8Array.from([...before, ...after]);
}

/** Guest address of the trap handler: RAM's last page. */
const HANDLER = TEST_RAM_BASE + RAM_SIZE - 4096;
const PMP_R = 1;
const PMP_X = 4;
const PMP_NAPOT = 3 << 3;
const PMP_L = 0x80;
/** csrr t6, mepc; addi t6, t6, 4; csrw mepc, t6; mret. */
const SKIP_HANDLER = [
  (CSR_MEPC << 20) | (2 << 12) | (31 << 7) | 0x73,
  (4 << 20) | (31 << 15) | (31 << 7) | 0x13,
  (CSR_MEPC << 20) | (31 << 15) | (1 << 12) | 0x73,
  INSN_MRET,
];

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`random instruction stream, seed ${seed}, traps only`, (t) => {
    const next = prng(seed * 7919);
    const ram = new GuardedRam(TEST_RAM_BASE, RAM_SIZE);
    const { hart, bus } = testHart({ ram });
    const probe = new Probe();
    bus.map(PROBE_BASE, PROBE_SIZE, probe);
    // Sentinel bytes outside RAM: any write there shows up as a changed byte.
    const all = new Uint8Array(ram.buffer);
    for (let i = ram.ramOffset + ram.size; i < all.length; i++) all[i] = 0xa5;
    for (let i = HART_BLOCK_SIZE; i < ram.ramOffset; i++) all[i] = 0x5a;
    const outsideBefore = outsideRamAndHart(ram);
    // Bias the stream towards real opcodes so it gets past decode, plus a trap vector that loops back.
    const opcodes = [
      0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33, 0x37, 0x3b, 0x43, 0x53, 0x63, 0x67, 0x6f,
      0x73,
    ];
    const words = new Int32Array(RAM_SIZE / 4);
    for (let i = 0; i < words.length; i++) {
      const r = next();
      words[i] = i % 3 === 0 ? r : (r & ~0x7f) | opcodes[r % opcodes.length];
    }
    ram.write(TEST_RAM_BASE, new Uint8Array(words.buffer));
    for (let i = 2; i < 64; i++) {
      const kind = next() % 5;
      hart.x[i] =
        kind === 0
          ? next() | 0
          : kind === 1
            ? (TEST_RAM_BASE + (next() % RAM_SIZE)) | 0
            : kind === 2
              ? (TEST_RAM_BASE + RAM_SIZE - (next() % 64)) | 0 // straddling RAM's end
              : kind === 3
                ? PROBE_BASE + (next() % (PROBE_SIZE + 64)) // in and just past the probe
                : next() % 64;
    }
    for (let i = 2; i < 64; i += 2) hart.x[i + 1] = next() % 3 === 0 ? next() | 0 : 0;
    // The trap handler skips the faulting instruction, so the stream keeps going instead of circling
    // through the same trap. It sits in RAM's last page behind a locked PMP entry (R+X: even M-mode
    // stores to it fault), and entry 1 opens all memory to S and U (privileged spec 3.7.1).
    ram.write(HANDLER, new Uint8Array(Int32Array.from(SKIP_HANDLER).buffer));
    hart.writeCsr(CSR_PMPADDR0, BigInt(HANDLER / 4 + (4096 / 8 - 1)));
    hart.writeCsr(CSR_PMPADDR0 + 1, (1n << 54n) - 1n);
    hart.writeCsr(CSR_PMPCFG0, (0x1fn << 8n) | BigInt(PMP_L | PMP_NAPOT | PMP_X | PMP_R));
    hart.writeCsr(CSR_MTVEC, BigInt(HANDLER));
    hart.writeCsr(CSR_MSTATUS, 1n << 13n); // FS=Initial so FP instructions run
    hart.pc = TEST_RAM_BASE;
    let steps = 0;
    const causes = new Set<bigint>();
    for (let batch = 0; batch < 100; batch++) {
      // Short runs, sampling mcause after each, to see which traps the stream reaches.
      for (let k = 0; k < 100; k++) {
        steps += hart.run(10);
        causes.add(hart.readCsr(CSR_MCAUSE) ?? -1n);
      }
      // Keep the guest moving if it parked itself in WFI or drifted far away.
      hart.waitingForInterrupt = false;
      if (batch % 20 === 0) {
        hart.pc = TEST_RAM_BASE + (next() % (RAM_SIZE - 4096)) - ((next() % RAM_SIZE) & 1);
        hart.writeCsr(CSR_MTVEC, BigInt(HANDLER)); // the stream may have moved it
      }
    }
    t.diagnostic(
      `${steps} steps, ${ram.accesses} RAM accesses, ${probe.accesses} MMIO accesses, causes ${[...causes].join(",")}`,
    );
    assert.deepEqual(ram.outside, [], "element accesses outside RAM");
    assert.deepEqual(probe.outside, [], "MMIO accesses outside the probe's window");
    assert.ok(
      outsideRamAndHart(ram).every((b, i) => b === outsideBefore[i]),
      "bytes outside RAM changed",
    );
    assert.equal(hart.x[0], 0);
    assert.equal(hart.x[1], 0);
    // The stream did real work: it ran, touched RAM beyond fetching, and trapped for several reasons.
    assert.ok(steps >= 50_000, `only ${steps} steps`);
    assert.ok(ram.accesses > steps, `only ${ram.accesses} RAM accesses in ${steps} steps`);
    const seen = [...causes].join(", ");
    assert.ok(causes.has(BigInt(CAUSE_ILLEGAL_INSTRUCTION)), `no illegal instruction; causes seen: ${seen}`);
    assert.ok(
      causes.has(BigInt(CAUSE_LOAD_ACCESS)) || causes.has(BigInt(CAUSE_STORE_ACCESS)),
      `no access fault; causes seen: ${seen}`,
    );
    assert.ok(causes.size >= 4, `causes seen: ${seen}`);
  });
}
